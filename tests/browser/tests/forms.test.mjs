// The SIP page's forms after review findings 3, 5, 6, 13 and 14: a follow-up meeting is recorded
// with its kallelse (which then is no longer the next meeting, on the SIP page nor on Min plan);
// a plan started at discharge on the red track shows its track, since when the need is known and
// when the meeting must be held, also beside the kallelse's time; huvudmål, delmål and insatser
// wait for the SIP-möte; the meeting records the coordinator agreed there; a plan is closed as
// replaced by a new one; a cancelled kallelse reads "Inställt". Each test runs its own
// `samplan serve --demo` (lib/samplan.mjs, Norrbotten's deadlines).

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEMO, PLAN, personnummer, screenshots, seriousViolations, signIn, staffToken, start, step, submit, withApp, swedishDay } from "../lib/samplan.mjs";

/** Demo plan 1 (README): kallelse sent, discharge on the yellow track, hälsocentralen coordinates. */
const INVITED = "01JGFJJZ000000006Y80004001";
/** Demo person 4, Karin Öberg, whose plan is plan 4 (PLAN.followedUp). */
const KARIN = "01JGFJJZ000000006Y80002004";

/** The value of a row of the "Läge" facts. */
async function fact(page, label) {
  return page.locator(".facts").first().locator(`dt:text-is("${label}") + dd`).innerText();
}

/** A staff token of the demo's hälsocentral coordinator. */
/** Min plan's text for Karin Öberg (plan 4), in a context of her own. */
async function minPlan(app) {
  const context = await app.context({ viewport: { width: 360, height: 740 }, isMobile: true });
  try {
    const page = await context.newPage();
    const token = app.token(["--role", "citizen", "--sub", KARIN, "--name", "Karin Öberg"]);
    await page.goto(`${app.base}/logga-in`);
    await page.getByLabel("Token (JWT) från inloggningstjänsten").fill(token);
    await submit(page, page.locator("form.token-form"), "Logga in");
    await page.goto(`${app.base}/min-plan/${PLAN.followedUp}`);
    return await page.locator("main").innerText();
  } finally {
    await context.close();
  }
}

test("a follow-up meeting is recorded with its kallelse, which is then no longer the next meeting", { timeout: 300_000 }, () =>
  withApp("forms-follow-up", async (app) => {
    // A follow-up by phone that has just taken place (sent through the API a few seconds ahead,
    // since a kallelse cannot be sent for a time that has passed).
    const token = staffToken(app, DEMO.hcLulea);
    const soon = new Date(Date.now() + 3_000);
    const sent = await app.post(`/sips/${PLAN.followedUp}/send-invitation`, token, {
      invitation_id: "uppfoljning-telefon",
      purpose: "follow_up",
      scheduled_at: soon.toISOString(),
      form: "phone",
      place: "Per telefon",
      reason: "Uppföljning av planen",
      recipients: [{ kind: "person" }],
    });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));

    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    await page.goto(`${app.base}/sip/${PLAN.followedUp}`);
    // The next follow-up, in three weeks, sent through the kallelse form.
    let form = await step(page, "kallelse");
    assert.equal(await form.getByLabel("Uppföljning", { exact: true }).isChecked(), true, "after the SIP-möte a kallelse is to a follow-up");
    const later = swedishDay(21);
    await form.getByLabel(/^Datum och tid/).fill(`${later.iso}T10:00`);
    await form.getByLabel(/^Plats/).fill("Hälsocentralen, rum 2");
    await form.getByLabel(/^Syfte med mötet/).fill("Uppföljning av planen");
    await form.getByLabel(/^Hemtjänst Centrum/).check();
    await submit(page, form, "Skicka");
    await page.locator(".invitations").getByText(/rum 2/).waitFor();
    while (Date.now() < soon.getTime() + 500) await page.waitForTimeout(250);
    await page.reload();

    // Both are follow-up kallelser: the SIP-möte form is not offered, moving and calling off are.
    assert.equal(await page.locator("details#mote").count(), 0, "a follow-up kallelse is not recorded as a SIP-möte");
    const moved = page.locator("details#flytta select[name=invitation_id] option");
    assert.equal(await moved.count(), 2);
    assert.match(await moved.first().textContent(), /^Uppföljning: /);
    assert.match(await fact(page, "Nästa möte"), /Per telefon \(tiden har passerat: registrera mötet\)/);

    // The uppföljning form lists both, and the one that has just taken place is chosen.
    form = await step(page, "uppfoljning");
    const meeting = form.getByLabel(/^Uppföljningsmöte/);
    const options = await meeting.locator("option").allTextContents();
    assert.equal(options.length, 3);
    assert.equal(options[0], "Ingen kallelse (t.ex. per telefon)");
    assert.ok(options.some((o) => /Per telefon$/.test(o)) && options.some((o) => /Hälsocentralen, rum 2$/.test(o)), options.join(" | "));
    assert.equal(await meeting.inputValue(), "uppfoljning-telefon", "the kallelse whose time passed last is chosen");
    assert.equal(await form.getByLabel(/^Uppföljningen hölls/).inputValue(), swedishDay(0).iso);
    await page.screenshot({ path: join(screenshots, "sip-follow-up-form.png"), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);
    await form.getByLabel(/^Anteckning/).fill("Uppföljning per telefon, allt fungerar.");
    await submit(page, form, "Registrera uppföljning");

    // The kallelse is held: not the next meeting on the SIP page, nor on Min plan, where the
    // follow-up ahead now is.
    const held = page.locator(".invitations li").filter({ hasText: "Per telefon" });
    await held.getByText("Mötet hölls").waitFor();
    // Möten tells which meeting the follow-up was.
    const newest = page.locator("#moten li.meeting").first();
    const meetingHeld = await newest.locator('dt:text-is("Uppföljningsmöte") + dd').innerText();
    assert.match(meetingHeld, /Telefonmöte, Per telefon$/);
    assert.match(await fact(page, "Nästa möte"), /^Uppföljning .*Hälsocentralen, rum 2$/);
    const personReads = await minPlan(app);
    assert.doesNotMatch(personReads, /Per telefon/);
    assert.match(personReads, /Hälsocentralen, rum 2/);
    form = await step(page, "uppfoljning");
    assert.equal(await form.getByLabel(/^Uppföljningsmöte/).locator("option").count(), 2);
    assert.notEqual(await form.getByLabel(/^Uppföljningsmöte/).inputValue(), "",
      "the follow-up kallelse is chosen even while its time is ahead (it is the follow-up being recorded)");

    // Finding 13: the cancelled kallelse reads "Inställt".
    form = await step(page, "stall-in");
    await form.getByLabel(/^Anledning/).fill("Ny plan upprättas i stället.");
    await submit(page, form, "Ställ in mötet");
    await page.locator(".invitations li").filter({ hasText: "rum 2" }).getByText("Inställt", { exact: true }).waitFor();
    assert.doesNotMatch(await page.locator(".invitations").innerText(), /Återkallad/);

    // Finding 14: closed as replaced by a new plan, named by the address of its page.
    form = await step(page, "avslut");
    await form.getByLabel("Ersatt av en ny plan").check();
    await form.getByLabel(/^Den nya planens id/).fill("inte-ett-id");
    await form.getByLabel(/^Jag vill avsluta/).check();
    const refused = await submit(page, form, "Avsluta planen");
    assert.equal(refused.status(), 422);
    assert.match(await page.locator("#avslut-replaced-by-fel").innerText(), /den nya planens id/);
    assert.equal(await page.locator("details#avslut").getByLabel("Ersatt av en ny plan").isChecked(), true, "what was chosen is kept");
    await page.locator("#avslut-replaced-by").fill(`${app.base}/sip/${PLAN.published}?efter=12#avslut`);
    await submit(page, page.locator("details#avslut"), "Avsluta planen");
    assert.match(await fact(page, "Avslutad"), /Ersatt av en ny plan \(den nya planen\)/);
    assert.equal(await page.locator(".facts a", { hasText: "den nya planen" }).getAttribute("href"), `/sip/${PLAN.published}`);
    assert.deepEqual(context.cspViolations, []);
  }));

test("a plan started at discharge on the red track shows its track and deadlines; goals wait for the meeting", { timeout: 300_000 }, () =>
  withApp("forms-discharge", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    const pin = personnummer("19480923", "162");
    await page.goto(`${app.base}/patienter`);
    const register = page.locator("details#registrera");
    await register.getByLabel(/^Personnummer eller samordningsnummer/).fill(pin);
    await register.getByLabel(/^Namn/).fill("Gösta Utskrivning");
    await submit(page, register, "Registrera");
    await page.getByRole("heading", { level: 1, name: "Gösta Utskrivning" }).waitFor();

    // "Behovet känt sedan" defaults to now; a time ahead is refused beside its field.
    let need = page.locator("details#behov");
    assert.match(await need.getByLabel(/^Behovet känt sedan/).inputValue(), new RegExp(`^${swedishDay(0).iso}T\\d\\d:\\d\\d$`));
    await need.getByLabel(/^Varför behövs en SIP/).fill("Utskrivningsklar från avdelning 61; behöver hemtjänst och hemsjukvård.");
    await need.getByLabel("Utskrivning från slutenvården").check();
    await need.getByLabel(/^Rött spår/).check();
    await need.getByLabel(/^Behovet känt sedan/).fill(`${swedishDay(2).iso}T08:00`);
    await need.getByLabel(/^Utskrivningsklar/).fill(`${swedishDay(-1).iso}T10:00`);
    await page.screenshot({ path: join(screenshots, "person-start-discharge.png"), fullPage: true });
    const refused = await submit(page, need, "Starta SIP");
    assert.equal(refused.status(), 422);
    assert.match(await page.locator("#behov-known-since").getAttribute("aria-describedby"), /behov-known-since-fel/);
    need = page.locator("details#behov");
    assert.equal(await need.getByLabel(/^Rött spår/).isChecked(), true, "what was chosen is kept");
    // Known five days ago: Norrbotten's meeting is due 21 days after that.
    const known = swedishDay(-5);
    await need.getByLabel(/^Behovet känt sedan/).fill(`${known.iso}T08:00`);
    await submit(page, need, "Starta SIP");
    await page.getByRole("heading", { level: 1, name: /^SIP för Gösta Utskrivning/ }).waitFor();

    assert.match(await fact(page, "Behovet känt sedan"), / kl\. 08\.00$/);
    assert.equal(await fact(page, "Sammanhang"), "Utskrivning från slutenvården, rött spår");
    assert.match(await fact(page, "Utskrivningsklar"), /i går kl\. 10\.00/);
    const due = swedishDay(16).text;
    assert.equal(await fact(page, "SIP-möte"),
      `Mötet bör hållas senast ${due}. Rött spår: mötet ska hållas före hemgång. Registrera utskrivningen när tiden är känd.`);

    // Registrera utskrivning, open on the red track until a time is recorded.
    let form = page.locator("details#utskrivning");
    assert.equal(await form.evaluate((d) => d.open), true);
    const home = swedishDay(2);
    await form.getByLabel(/^Utskrivning \(planerad eller skedd\)/).fill(`${home.iso}T12:00`);
    await submit(page, form, "Registrera utskrivning");
    assert.match(await fact(page, "Planerad utskrivning"), / kl\. 12\.00$/);
    // Going home comes before Norrbotten's own deadline: the discharge is the deadline (001).
    assert.equal(await fact(page, "SIP-möte"),
      `Rött spår: mötet ska hållas före hemgång, ${home.text} kl. 12.00.`);

    // Consent and basis; before the SIP-möte no huvudmål, delmål or insats, a line instead.
    form = await step(page, "samtycke");
    await form.getByLabel(/^Vad får mötet handla om/).fill("Hemgång");
    await submit(page, form, "Spara");
    form = await step(page, "underlag");
    await submit(page, form, "Skapa underlag");
    await page.locator(".facts").getByText(DEMO.hcLulea.name).waitFor();
    for (const key of ["huvudmal", "delmal", "insats"]) {
      assert.equal(await page.locator(`details#${key}`).count(), 0, `${key} waits for the meeting`);
    }
    assert.equal(await page.locator(".goals-after-meeting").innerText(), "Delmål och insatser dokumenteras efter SIP-mötet.");

    // The kallelse form says when the meeting must be held, beside the time.
    form = await step(page, "kallelse");
    const hint = await page.locator("#kallelse-scheduled-at-hint").innerText();
    assert.doesNotMatch(hint, new RegExp(`Mötet bör hållas senast ${due}`), "the discharge comes first");
    assert.match(hint, new RegExp(`Rött spår: mötet ska hållas före hemgång, ${home.text} kl\\. 12\\.00\\.`));
    assert.match(hint, /Skicka kallelsen senast |Kallelsen skulle ha skickats senast /);
    assert.match(await page.locator("#kallelse-scheduled-at").getAttribute("aria-describedby"), /kallelse-scheduled-at-hint/);
    await page.screenshot({ path: join(screenshots, "sip-discharge.png"), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);
    assert.deepEqual(context.cspViolations, []);
  }));

test("the meeting records the coordinator agreed at it; goals are documented after the meeting", { timeout: 300_000 }, () =>
  withApp("forms-meeting", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    await page.goto(`${app.base}/sip/${INVITED}`);
    assert.equal(await fact(page, "Sammanhang"), "Utskrivning från slutenvården, gult spår");
    assert.equal(await page.locator("details#utskrivning").count(), 0, "the ward that started the plan registers the discharge, not the coordinator");
    assert.equal(await page.locator("details#delmal").count(), 0);
    await page.locator(".goals-after-meeting").waitFor();

    let form = await step(page, "mote");
    assert.equal(await form.getByLabel(/^Kallelse/).locator("option").count(), 1);
    await form.getByLabel(/^Mötessekreterare/).fill("Sara Sekreterare");
    // A name without HSA-id is refused beside the HSA-id, the rest kept.
    await form.getByLabel(/^Samordningsansvarig efter mötet, namn/).fill("Nils Nyström");
    let response = await submit(page, form, "Registrera mötet");
    assert.equal(response.status(), 422);
    assert.match(await page.locator("#mote-staff-id-fel").innerText(), /HSA-id/);
    form = page.locator("details#mote");
    assert.equal(await form.getByLabel(/^Mötessekreterare/).inputValue(), "Sara Sekreterare");
    await form.getByLabel(/^Samordningsansvarig efter mötet, HSA-id/).fill("SE2321000016-DHC9");
    assert.equal(await form.getByLabel(/^Samordningsansvarig efter mötet, enhet/).inputValue(), DEMO.hcLulea.unit);
    await page.screenshot({ path: join(screenshots, "sip-meeting-form.png"), fullPage: true });
    response = await submit(page, form, "Registrera mötet");
    assert.equal(response.status(), 200);

    assert.equal(await fact(page, "Samordningsansvarig"), "Nils Nyström, Hälsocentralen Centrum, Luleå");
    assert.equal(await page.locator(".goals-after-meeting").count(), 0);
    // The unit documents its own delmål now; the huvudmål and follow-up are the new coordinator's.
    assert.equal(await page.locator("details#delmal").count(), 1);
    assert.equal(await page.locator("details#huvudmal").count(), 0);
    assert.equal(await page.locator("details#uppfoljning").count(), 0);
    assert.deepEqual(await seriousViolations(page), []);
    assert.deepEqual(context.cspViolations, []);
  }));
