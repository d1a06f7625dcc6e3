// "Skriv ut planen": the SIP document staff hand to the person (review finding 5; seed 002 "SIP:en
// skall skrivas ut och lämnas till patienten snarast", seed 003 "Den enskilde får originalet"),
// and what Min plan, which the printout shares, shows the person (findings 2 and 14). Each test
// runs its own `samplan serve --demo` (lib/samplan.mjs).

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEMO, PLAN, screenshots, seriousViolations, signIn, withApp } from "../lib/samplan.mjs";

/** Demo plan 3 (README): Elsa Berg, 12; socialtjänsten published, the hälsocentral's part a draft. */
const CHILD_PLAN = "01JGFJJZ000000006Y80004003";
/** Demo plan 5: Lars Holm's, closed with the goals met. */
const CLOSED_PLAN = "01JGFJJZ000000006Y80004005";
const ELSA = "01JGFJJZ000000006Y80002003";
const KARIN = "01JGFJJZ000000006Y80002004";
const LARS = "01JGFJJZ000000006Y80002005";
/** The hälsocentral taking part in plan 3, whose sub-goal there is still a draft. */
const HC_BODEN = { unit: "nll-hc-boden", button: "Hälsocentralen Boden", sub: "SE2321000016-DHB1", name: "Distriktssköterska, Hälsocentralen Boden" };
const DRAFT = "Bättre sömn (utkast, ej delat).";

/** A browser context signed in with `token` (the session cookie the sign-in form sets). */
async function signedIn(app, token, options = {}) {
  const context = await app.context({ viewport: { width: 1280, height: 900 }, ...options });
  await context.addCookies([{ name: "samplan_session", value: token, url: app.base }]);
  return context;
}

/** The access log's reads of plan `sip` about `person` by `actor` with `action` (the auditor's extract). */
async function planReads(app, person, sip, actor, action = "sip.print") {
  const auditor = app.token(["--role", "auditor", "--sub", "demo-revisor", "--name", "Revisor"]);
  const r = await fetch(`${app.base}/api/v1/audit/access-log?person_id=${person}`, { headers: { authorization: `Bearer ${auditor}` } });
  assert.equal(r.status, 200);
  const { entries } = await r.json();
  return entries.filter((e) => e.action === action && e.sip_id === sip && e.actor === actor).length;
}

test("Skriv ut planen prints what is published, never a draft, and the read is logged", { timeout: 240_000 }, () =>
  withApp("print-plan", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, HC_BODEN);
    await page.goto(`${app.base}/sip/${CHILD_PLAN}`);
    // The staff page shows the unit its own draft; the printout must not.
    assert.match(await page.locator("main").innerText(), /Bättre sömn/);
    const before = await planReads(app, ELSA, CHILD_PLAN, HC_BODEN.sub);
    await Promise.all([page.waitForNavigation(), page.getByRole("link", { name: "Skriv ut planen" }).click()]);
    assert.equal(new URL(page.url()).pathname, `/sip/${CHILD_PLAN}/utskrift`);
    assert.equal(await planReads(app, ELSA, CHILD_PLAN, HC_BODEN.sub), before + 1, "the printout is logged as a printout of the plan");

    const doc = page.locator("article.sip-print");
    await doc.getByRole("heading", { level: 1, name: "Samordnad individuell plan (SIP)" }).waitFor();
    const text = await doc.innerText();
    // Whom it concerns, the coordinator and the day, then the plan as Elsa's family reads it.
    assert.match(text, /Planen gäller\s+Elsa Berg, 20140302-9828/);
    assert.match(text, /Samordningsansvarig\s+Socialsekreterare, barn och unga, Socialtjänsten Boden, barn och unga/);
    assert.match(text, /Utskriftsdatum\s+\d{1,2} \p{L}+ \d{4}/u);
    assert.match(text, /Elsa vill trivas och gå i skolan varje dag\./);
    assert.match(text, /Närvaro i skolan minst fyra dagar i veckan före sommarlovet\./);
    assert.match(text, /Familjebehandlare träffar Elsa och vårdnadshavarna varje vecka\./);
    assert.ok(!text.includes("Bättre sömn"), `a draft in the printout: ${text}`);
    assert.ok(!(await page.locator("main").innerText()).includes(DRAFT));
    // Every unit taking part, the hälsocentral too although it has published nothing yet.
    const units = await doc.locator("ul.units li").allInnerTexts();
    assert.ok(units.some((u) => u.startsWith("Hälsocentralen Boden")), units.join(" | "));
    assert.ok(units.some((u) => u.startsWith("Socialtjänsten Boden, barn och unga")), units.join(" | "));
    // Every participant signs (seed 003): a line for Elsa and for each unit, with the day of the
    // SIP-möte the plan was drawn up at.
    assert.match(text, /Upprättad vid SIP-möte\s+\d{1,2} \p{L}+ \d{4}/u);
    const signers = await doc.locator("ul.signature-lines li").allInnerTexts();
    assert.ok(signers[0].startsWith("Elsa Berg (den enskilde)"), signers.join(" | "));
    assert.ok(signers[1].startsWith("Vårdnadshavare"), `a child's guardians sign too: ${signers.join(" | ")}`);
    assert.ok(signers.some((s) => s.startsWith("Hälsocentralen Boden")), signers.join(" | "));
    // The unit is told its draft is left out.
    await page.locator(".print-tools .own-drafts").waitFor();
    assert.deepEqual(await seriousViolations(page), []);

    // On paper: the document alone, no header, breadcrumb, notices or buttons.
    await page.emulateMedia({ media: "print" });
    assert.equal(await page.locator("header.top").isVisible(), false);
    assert.equal(await page.locator(".print-tools").isVisible(), false);
    assert.equal(await doc.isVisible(), true);
    await page.screenshot({ path: join(screenshots, "sip-print.png"), fullPage: true });
    await page.pdf({ path: join(screenshots, "sip-print.pdf"), format: "A4", printBackground: false });
    assert.deepEqual(context.cspViolations, []);
    await context.close();
  }));

test("a unit taking no part in the plan gets the 404 page for its printout", { timeout: 180_000 }, () =>
  withApp("print-stranger", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.htLulea);
    const before = await planReads(app, ELSA, CHILD_PLAN, DEMO.htLulea.sub);
    for (const id of [CHILD_PLAN, "01JGFJJZ000000006Y8000ZZZZ", "inte-ett-id"]) {
      const response = await page.goto(`${app.base}/sip/${id}/utskrift`);
      assert.equal(response.status(), 404, id);
      await page.getByRole("heading", { level: 1, name: "Sidan finns inte" }).waitFor();
      assert.ok(!(await page.locator("main").innerText()).includes("Elsa"));
    }
    assert.equal(await planReads(app, ELSA, CHILD_PLAN, DEMO.htLulea.sub), before, "nothing read, nothing logged");
    // The person does not print through the staff page.
    const citizen = await signedIn(app, app.token(["--role", "citizen", "--sub", ELSA, "--name", "Elsa Berg"]));
    const response = await (await citizen.newPage()).goto(`${app.base}/sip/${CHILD_PLAN}/utskrift`);
    assert.equal(response.status(), 403);
    await context.close();
    await citizen.close();
  }));

test("with protected identity the printout has no address or phone of the person", { timeout: 180_000 }, () =>
  withApp("print-protected", async (app) => {
    const token = app.token(["--role", "staff", "--sub", DEMO.hcLulea.sub, "--unit", DEMO.hcLulea.unit, "--name", DEMO.hcLulea.name]);
    const context = await signedIn(app, token);
    const page = await context.newPage();
    await page.goto(`${app.base}/sip/${PLAN.followedUp}/utskrift`);
    let text = await page.locator("article.sip-print").innerText();
    assert.match(text, /Planen gäller\s+Karin Öberg, 19751108-9836/);
    assert.match(text, /Adress\s+Lulevägen 44, 973 31 Luleå/);
    assert.match(text, /Telefon\s+070-123 04 04/);

    const marked = await app.post(`/persons/${KARIN}/mark-protected-identity`, token, {});
    assert.equal(marked.status, 200, JSON.stringify(marked.body));
    // Wait for the directory to have it, through the API's own wait.
    const r = await fetch(`${app.base}/api/v1/persons/${KARIN}?min_position=${marked.body.position}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);

    await page.goto(`${app.base}/sip/${PLAN.followedUp}/utskrift`);
    const main = await page.locator("main").innerText();
    assert.match(main, /Planen gäller\s+Karin Öberg, 19751108-9836/);
    assert.ok(!main.includes("Lulevägen"), `an address with protected identity: ${main}`);
    assert.ok(!main.includes("070-123 04 04"), `a phone with protected identity: ${main}`);
    assert.equal(await page.locator(".print-address, .print-phone").count(), 0);
    await context.close();
  }));

test("Min plan: the main goal reached, every unit taking part, the person's own part, a closed plan", { timeout: 240_000 }, () =>
  withApp("print-min-plan", async (app) => {
    // Lars Holm's plan was closed after a follow-up that found the main goal reached.
    const lars = await signedIn(app, app.token(["--role", "citizen", "--sub", LARS, "--name", "Lars Holm"]), { viewport: { width: 360, height: 740 }, isMobile: true });
    let page = await lars.newPage();
    await page.goto(`${app.base}/min-plan/${CLOSED_PLAN}`);
    const goal = page.locator("section[aria-labelledby=rubrik-huvudmal]");
    assert.match(await goal.innerText(), /Målet är nått\./);
    const next = await page.locator("section[aria-labelledby=rubrik-uppfoljning]").innerText();
    assert.match(next, /Planen är avslutad\. Det blir inga fler uppföljningar\./);
    assert.ok(!next.includes("Inget datum för uppföljning"), next);
    await page.screenshot({ path: join(screenshots, "min-plan-closed.png"), fullPage: true });
    await lars.close();

    // Karin Öberg's follow-up found her main goal not reached yet.
    const karin = await signedIn(app, app.token(["--role", "citizen", "--sub", KARIN, "--name", "Karin Öberg"]));
    page = await karin.newPage();
    await page.goto(`${app.base}/min-plan/${PLAN.followedUp}`);
    assert.match(await page.locator("section[aria-labelledby=rubrik-huvudmal]").innerText(), /Målet är inte nått ännu\./);
    await karin.close();

    // Maria Berg reads Elsa's plan: the hälsocentral takes part though it has published nothing.
    const maria = await signedIn(app, app.token(["--role", "citizen", "--sub", "demo-vardnadshavare-maria", "--personal-identity-number", "19850412-9829", "--name", "Maria Berg"]));
    page = await maria.newPage();
    await page.goto(`${app.base}/min-plan/${CHILD_PLAN}`);
    const units = await page.locator("section[aria-labelledby=rubrik-enheter] li").allInnerTexts();
    assert.ok(units.some((u) => u.startsWith("Hälsocentralen Boden")), units.join(" | "));
    assert.ok(units.some((u) => u.startsWith("Socialtjänsten Boden, barn och unga")), units.join(" | "));
    assert.ok(!(await page.locator("main").innerText()).includes("Bättre sömn"));
    await maria.close();

    // Erik's own part of his plan: "Du själv", with no performer or number beside it.
    const erik = await app.context({ viewport: { width: 1280, height: 900 } });
    page = await erik.newPage();
    await signIn(app, page, DEMO.citizen);
    await page.goto(`${app.base}/min-plan/${PLAN.published}`);
    const own = page.locator(".intervention").filter({ hasText: "Promenerar med en vän" });
    const ownText = await own.innerText();
    assert.match(ownText, /Vem: Du själv\n/);
    assert.ok(!ownText.includes("Erik själv"), ownText);
    assert.ok(!ownText.includes("Så når du dem"), ownText);
    // A unit's part keeps its performer and how to reach them.
    const kbt = await page.locator(".intervention").filter({ hasText: "Samtalsbehandling (KBT)" }).innerText();
    assert.match(kbt, /Så når du dem: 0920-28 45 00/);
    assert.deepEqual(await seriousViolations(page), []);
    await erik.close();
  }));
