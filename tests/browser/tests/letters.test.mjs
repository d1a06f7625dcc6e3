// Kallelse letters in a real browser, one text per reader: the person ("ditt stöd"), a relative
// and a guardian (about the person, named; a guardian's about the child), and an actor without
// samplan outside care and social services ("Ni bjuds in"). Every letter names whom the meeting concerns by name and birth year and
// never by personnummer, and a follow-up is "en uppföljning" throughout. The letters are printed
// to PDF (A4) and turned into PNG in target/screenshots to be looked at.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { DEMO, PLAN, screenshots, seriousViolations, signIn, staffToken, start, withApp } from "../lib/samplan.mjs";

/** Demo units and plans the letters come from (README): who coordinates, who gets letters. */
const PSYK = { button: "Psykiatriska mottagningen Luleå", sub: "SE2321000016-DPS1" };
const SOC_BODEN = { button: "Socialtjänsten Boden, barn och unga" };
const PLAN_INVITED = "01JGFJJZ000000006Y80004001";
const PLAN_CHILD = "01JGFJJZ000000006Y80004003";

/** Opens a letter; returns the letter's text. */
async function letter(app, page, plan, invitation, recipient, heading) {
  const response = await page.goto(`${app.base}/sip/${plan}/kallelse/${invitation}/brev/${recipient}`);
  assert.equal(response.status(), 200, `${plan} ${invitation} ${recipient}`);
  await page.getByRole("heading", { level: 2, name: heading }).waitFor();
  return page.locator("article.letter").innerText();
}

/** The letter as printed: A4 PDF, and a PNG of it to look at. */
async function print(page, name) {
  const pdf = join(screenshots, `${name}.pdf`);
  await page.pdf({ path: pdf, format: "A4", preferCSSPageSize: true, printBackground: true });
  execFileSync("pdftoppm", ["-png", "-r", "80", "-singlefile", pdf, join(screenshots, name)]);
}

/** Whitespace as one space, so a sentence broken over lines still matches. */
const flat = (text) => text.replace(/\s+/g, " ");

test("each letter speaks to its reader and names whom the meeting concerns", { timeout: 240_000 }, () =>
  withApp("letters", async (app) => {
    const context = await app.context({ viewport: { width: 1000, height: 1200 } });
    const page = await context.newPage();

    // Försäkringskassan, without samplan and outside care and social services, is invited (not
    // called: the duty to come is theirs alone) for Erik Lindqvist (born 1962).
    await signIn(app, page, PSYK);
    let text = flat(await letter(app, page, PLAN.published, "kallelse-1", "unit:fk-lulea", "Inbjudan till SIP-möte"));
    assert.match(text, /Ni bjuds in till SIP-möte – samordnad individuell plan – för Erik Lindqvist, född 1962\./);
    assert.doesNotMatch(text, /kallelse och inte en inbjudan/);
    assert.match(text, /Gäller Erik Lindqvist, född 1962/);
    assert.doesNotMatch(text, /ditt stöd|Du är välkommen/);
    assert.doesNotMatch(text, /19620923|620923-?9810/, "never the personnummer");
    assert.deepEqual(await seriousViolations(page), []);
    await print(page, "letter-unit");
    // The person's own letter keeps "ditt stöd".
    text = flat(await letter(app, page, PLAN.published, "kallelse-1", "person", "Kallelse till SIP-möte"));
    assert.match(text, /Du är välkommen till ett SIP-möte – samordnad individuell plan\. Vid mötet planerar vi tillsammans med dig hur vård och omsorg ska samverka kring ditt stöd\./);
    await print(page, "letter-person");

    // A relative (Astrid Nilsson's daughter) reads about Astrid, named.
    const hc = await app.context({ viewport: { width: 1000, height: 1200 } });
    const hcPage = await hc.newPage();
    await signIn(app, hcPage, DEMO.hcLulea);
    text = flat(await letter(app, hcPage, PLAN_INVITED, "kallelse-1", "relative:dotter", "Kallelse till SIP-möte"));
    assert.match(text, /Du är välkommen till ett SIP-möte – samordnad individuell plan – för Astrid Nilsson, född 1938\./);
    assert.match(text, /kring Astrid Nilssons stöd\./);
    assert.doesNotMatch(text, /ditt stöd|19380614/);
    await print(hcPage, "letter-relative");

    // A guardian of twelve-year-old Elsa reads about the child.
    const boden = await app.context({ viewport: { width: 1000, height: 1200 } });
    const bodenPage = await boden.newPage();
    await signIn(app, bodenPage, SOC_BODEN);
    text = flat(await letter(app, bodenPage, PLAN_CHILD, "kallelse-1", "relative:vh-mamma", "Kallelse till SIP-möte"));
    assert.match(text, /Som vårdnadshavare är du välkommen till ett SIP-möte – samordnad individuell plan – för barnet Elsa Berg, född 2014\./);
    assert.match(text, /kring Elsa Bergs stöd\. Barnets egna önskemål och behov tas upp vid mötet, även om barnet inte deltar\./);
    assert.doesNotMatch(text, /ditt stöd|20140302/);
    assert.deepEqual(await seriousViolations(bodenPage), []);
    await print(bodenPage, "letter-guardian");

    for (const c of [context, hc, boden]) assert.deepEqual(c.cspViolations, []);
  }));

test("a follow-up letter is Swedish: en uppföljning, inställd", { timeout: 240_000 }, () =>
  withApp("letters-follow-up", async (app) => {
    // The coordinator calls Karin Öberg to a follow-up, by letter, through the API.
    const coordinator = staffToken(app, DEMO.hcLulea);
    const at = new Date(Date.now() + 21 * 86_400_000);
    at.setUTCHours(8, 0, 0, 0);
    const sent = await app.post(`/sips/${PLAN.followedUp}/send-invitation`, coordinator, {
      invitation_id: "brevtest-uppfoljning",
      purpose: "follow_up",
      scheduled_at: at.toISOString(),
      form: "in_person",
      place: "Hälsocentralen Centrum, rum 4",
      reason: "Uppföljning av planen.",
      recipients: [{ kind: "person" }, { kind: "unit", unit_id: DEMO.htLulea.unit }],
    });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));

    const context = await app.context({ viewport: { width: 1000, height: 1200 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    let text = flat(await letter(app, page, PLAN.followedUp, "brevtest-uppfoljning", "person", "Kallelse till uppföljning av SIP"));
    assert.match(text, /Du är välkommen till en uppföljning av din SIP – samordnad individuell plan\./);
    assert.doesNotMatch(text, /ett uppföljning/);
    await print(page, "letter-follow-up");

    const cancelled = await app.post(`/sips/${PLAN.followedUp}/cancel-invitation`, coordinator, {
      invitation_id: "brevtest-uppfoljning",
      reason: "Samordnaren är sjuk.",
    });
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    const position = cancelled.body.position;
    const response = await page.goto(`${app.base}/sip/${PLAN.followedUp}/kallelse/brevtest-uppfoljning/brev/person?efter=${position}`);
    assert.equal(response.status(), 200);
    await page.getByRole("heading", { level: 2, name: "Inställd uppföljning av SIP" }).waitFor();
    text = flat(await page.locator("article.letter").innerText());
    assert.match(text, /Den uppföljning av din SIP som du var kallad till .* blir inte av\./);
    assert.doesNotMatch(text, /Det uppföljning|Inställt uppföljning/);
    assert.deepEqual(await seriousViolations(page), []);
    await print(page, "letter-follow-up-cancelled");
    assert.deepEqual(context.cspViolations, []);
  }));
