// The SIP page's plan forms after the web audit (/tmp/audit-web/report.md), findings 2, 3, 4, 6,
// 8, 9 and 18: the follow-up kallelse is chosen when the follow-up is recorded, even ahead; the
// follow-up date is booked on its own ("Boka uppföljning"); the SIP-möte form waits for the
// kallelse's time and suggests it; delmål and insatser are changed ("Ändra"); "Ansvarig" offers
// only whom the caller may document for; a follow-up kallelse goes to the units taking part; the
// kallelse's time, the unit lists, the close reasons and single check boxes read as staff expect.
// Each test runs its own `samplan serve --demo` (lib/samplan.mjs, Norrbotten's deadlines).

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEMO, PLAN, screenshots, seriousViolations, signIn, staffToken, step, submit, withApp, swedishDay } from "../lib/samplan.mjs";

/** Demo plan 1 (README): kallelse sent, meeting ahead, hälsocentralen coordinates. */
const INVITED = "01JGFJJZ000000006Y80004001";

/** A time as `<input type=datetime-local>` holds it, in Swedish local time. */
function localInput(at) {
  const part = (options) => new Intl.DateTimeFormat("sv-SE", { timeZone: "Europe/Stockholm", ...options }).format(at);
  return `${part({ year: "numeric" })}-${part({ month: "2-digit" })}-${part({ day: "2-digit" })}T${part({ hour: "2-digit", hourCycle: "h23" })}:${part({ minute: "2-digit" }).padStart(2, "0")}`;
}

/** The value of a row of the "Läge" facts. */
async function fact(page, label) {
  return page.locator(".facts").first().locator(`dt:text-is("${label}") + dd`).innerText();
}

/** The labels of a check-box group or the options of a select, without their "brev" tags. */
async function labels(locator) {
  return (await locator.allTextContents()).map((t) => t.replace(/\s+brev\s*$/, "").trim());
}

/** Whether a single check box's label stands beside the box, on its line. */
async function besideTheBox(form, label) {
  const box = await form.getByLabel(label).boundingBox();
  const text = await form.locator("label", { hasText: label }).boundingBox();
  return text.x >= box.x + box.width && Math.abs((text.y + text.height / 2) - (box.y + box.height / 2)) < text.height;
}

test("the coordinator books, calls and records the follow-up, and changes delmål and insatser", { timeout: 300_000 }, () =>
  withApp("plan-forms-follow-up", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    const sipUrl = `${app.base}/sip/${PLAN.followedUp}`;
    await page.goto(sipUrl);

    // Finding 3: the agreed follow-up date is booked, or moved, on its own.
    let form = page.locator("details#boka-uppfoljning");
    assert.equal(await form.evaluate((d) => d.open), false, "a date is booked already");
    assert.equal(await form.locator("summary").innerText(), "Boka uppföljning");
    form = await step(page, "boka-uppfoljning");
    assert.equal(await form.getByLabel(/^Datum för uppföljning/).inputValue(), swedishDay(60).iso, "the booked date");
    const moved = swedishDay(45);
    await form.getByLabel(/^Datum för uppföljning/).fill(moved.iso);
    await form.getByLabel(/^Anteckning/).fill("Flyttad på den enskildes begäran.");
    await submit(page, form, "Spara");
    // A day off is said to be one beside it (web/dates.rs `agreed_day`); the day is the one moved to.
    assert.equal((await fact(page, "Nästa uppföljning")).replace(/ \([^)]*inte en arbetsdag\)$/, ""), moved.text);
    assert.match(await page.locator(".history li").first().innerText(), /Uppföljning planerad/);

    // Försäkringskassan is to take part too: a new consent that covers it.
    form = await step(page, "samtycke");
    await form.getByLabel(/^Försäkringskassan/).check();
    await submit(page, form, "Spara");

    // Findings 9 and 18: a follow-up kallelse goes to the units taking part and the person; the
    // time suggested is the next working day at 09.00; the units are listed by name.
    form = await step(page, "kallelse");
    assert.equal(await form.getByLabel("Uppföljning", { exact: true }).isChecked(), true);
    assert.equal(await form.getByLabel(/^Hemtjänst Centrum/).isChecked(), true, "a unit taking part is called");
    assert.equal(await form.getByLabel(/^Den enskilde/).isChecked(), true);
    assert.equal(await form.getByLabel(/^Försäkringskassan/).isChecked(), false, "a unit not taking part is not");
    const suggested = await form.getByLabel(/^Datum och tid/).inputValue();
    assert.match(suggested, /T09:00$/);
    const day = new Date(`${suggested.slice(0, 10)}T12:00:00Z`);
    assert.ok(day > new Date() && day - new Date() < 6 * 86_400_000, suggested);
    assert.ok(![0, 6].includes(day.getUTCDay()), `${suggested} is a working day`);
    const units = (await labels(form.locator("#kallelse-recipients .opt label"))).filter((l) => l !== "Den enskilde");
    assert.deepEqual(units, [...units].sort(new Intl.Collator("sv").compare), "units by name");
    const followUp = swedishDay(21);
    await form.getByLabel(/^Datum och tid/).fill(`${followUp.iso}T10:00`);
    await form.getByLabel(/^Plats/).fill("Hälsocentralen, rum 4");
    await form.getByLabel(/^Syfte med mötet/).fill("Uppföljning av planen");
    await form.getByLabel(/^Försäkringskassan/).check();
    await submit(page, form, "Skicka");
    await page.locator(".invitations").getByText(/rum 4/).waitFor();

    // Finding 2: recording the follow-up chooses its kallelse, though its time is ahead.
    form = await step(page, "uppfoljning");
    const meeting = form.getByLabel(/^Uppföljningsmöte/);
    assert.notEqual(await meeting.inputValue(), "", "the active follow-up kallelse is chosen");
    assert.match(await meeting.locator("option:checked").innerText(), /Hälsocentralen, rum 4$/);
    assert.equal(await form.getByLabel(/^Uppföljningen hölls/).inputValue(), swedishDay(0).iso);
    // Finding 18: a single check box has its label beside it.
    assert.equal(await besideTheBox(form, "Huvudmålet är uppnått"), true);
    await page.screenshot({ path: join(screenshots, "plan-forms-follow-up.png"), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);
    await form.getByLabel(/^Anteckning/).fill("Uppföljning per telefon i förtid.");
    await submit(page, form, "Registrera uppföljning");
    await page.locator(".invitations li").filter({ hasText: "rum 4" }).getByText("Mötet hölls").waitFor();
    assert.doesNotMatch(await page.locator(".facts").first().innerText(), /rum 4/, "no longer the next meeting");
    // No next date agreed: "Boka uppföljning" is the next step (or closing the plan).
    assert.equal(await page.locator("details#boka-uppfoljning").evaluate((d) => d.open), true);

    // Finding 8: Ansvarig offers the coordinator's own unit, units taking part without samplan
    // (Försäkringskassan, called by letter) and the person; not hemtjänsten, which documents its own.
    form = await step(page, "delmal");
    assert.deepEqual(await labels(form.getByLabel(/^Ansvarig/).locator("option")), [
      "Hälsocentralen Centrum, Luleå (din enhet)", "Försäkringskassan, lokalkontor Luleå", "Den enskilde (egenvård)",
    ]);
    // Finding 18: consent was given, so it was never declined.
    form = await step(page, "avslut");
    assert.equal(await form.getByLabel("Samtycke nekades").count(), 0);
    assert.equal(await form.getByLabel("Målen är uppnådda").count(), 1);

    // Finding 6: the coordinator's own delmål and insats are changed, filled as they are; not
    // hemtjänstens.
    assert.equal(await page.locator("details#andra-delmal-delmal-lulea-hemtjanst-centrum").count(), 0);
    assert.equal(await page.locator("details#andra-insats-insats-lulea-hemtjanst-centrum").count(), 0);
    form = await step(page, "andra-delmal-delmal-nll-hc-centrum-lulea");
    assert.equal(await form.locator("summary").innerText(), "Ändra delmål: Stabilt blodsocker.");
    assert.equal(await form.getByLabel(/^Delmål/).inputValue(), "Stabilt blodsocker.");
    assert.equal(await form.getByLabel(/^Ansvarig/).inputValue(), "unit:nll-hc-centrum-lulea");
    await form.getByLabel(/^Delmål/).fill("Stabilt blodsocker, HbA1c under 52.");
    await submit(page, form, "Spara & dela ut");
    await page.locator(".goal").getByText("Stabilt blodsocker, HbA1c under 52.").first().waitFor();
    form = await step(page, "andra-insats-insats-nll-hc-centrum-lulea");
    assert.equal(await form.getByLabel(/^Insats/).inputValue(), "Diabetessköterska varje månad och översyn av läkemedel.");
    assert.equal(await form.getByLabel(/^Delmål/).inputValue(), "delmal-nll-hc-centrum-lulea");
    assert.notEqual(await form.getByLabel(/^Kontakt/).inputValue(), "", "the contact is kept");
    await form.getByLabel(/^Insats/).fill("Diabetessköterska varannan vecka och översyn av läkemedel.");
    await submit(page, form, "Spara som utkast");
    await page.getByText("Diabetessköterska varannan vecka och översyn av läkemedel.").first().waitFor();
    assert.deepEqual(context.cspViolations, []);

    // Hemtjänsten: Ansvarig is its own unit only; it follows up and changes its own insats.
    const unitContext = await app.context({ viewport: { width: 1280, height: 900 } });
    const other = await unitContext.newPage();
    await signIn(app, other, DEMO.htLulea);
    await other.goto(sipUrl);
    form = await step(other, "delmal");
    assert.deepEqual(await labels(form.getByLabel(/^Ansvarig/).locator("option")), ["Hemtjänst Centrum (din enhet)"]);
    assert.equal(await other.locator("details#andra-delmal-delmal-nll-hc-centrum-lulea").count(), 0);
    // Finding 18: no doubled ".:" after an insats ending in a full stop.
    form = await step(other, "uppfoljning-insatser");
    await form.getByLabel("Hemtjänst stöttar vid matlagning tre dagar i veckan: utfall").waitFor();
    form = await step(other, "andra-insats-insats-lulea-hemtjanst-centrum");
    assert.equal(await form.getByLabel(/^Insats/).inputValue(), "Hemtjänst stöttar vid matlagning tre dagar i veckan.");
    await form.getByLabel(/^Insats/).fill("Hemtjänst stöttar vid matlagning två dagar i veckan.");
    await submit(other, form, "Spara & dela ut");
    await other.getByText("Hemtjänst stöttar vid matlagning två dagar i veckan.").first().waitFor();
    assert.doesNotMatch(await other.locator("main").innerText(), /tre dagar i veckan/, "the insats itself is changed");
    assert.deepEqual(await seriousViolations(other), []);
    assert.deepEqual(unitContext.cspViolations, []);
  }));

test("the SIP-möte form waits for the kallelse's time and then suggests it", { timeout: 300_000 }, () =>
  withApp("plan-forms-meeting", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    await page.goto(`${app.base}/sip/${INVITED}`);
    // The demo's meeting is days ahead: the form is there, closed.
    const form = page.locator("details#mote");
    await form.waitFor({ state: "attached" });
    assert.equal(await form.evaluate((d) => d.open), false, "the meeting is still ahead");

    // A meeting called a few seconds ahead (through the API: a kallelse's time cannot have
    // passed when it is sent); once its time has passed, the form opens with that time.
    const soon = new Date(Date.now() + 3_000);
    const sent = await app.post(`/sips/${INVITED}/send-invitation`, staffToken(app, DEMO.hcLulea), {
      invitation_id: "mote-nu",
      purpose: "meeting",
      scheduled_at: soon.toISOString(),
      form: "phone",
      place: "Per telefon",
      reason: "SIP-möte per telefon",
      recipients: [{ kind: "person" }],
    });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    while (Date.now() < soon.getTime() + 500) await page.waitForTimeout(250);
    await page.reload();
    assert.equal(await page.locator("details#mote").evaluate((d) => d.open), true, "the meeting's time has passed");
    const mote = page.locator("details#mote");
    assert.equal(await mote.getByLabel(/^Kallelse/).inputValue(), "mote-nu", "the kallelse whose time has come");
    assert.equal(await mote.getByLabel(/^Mötet hölls/).inputValue(), localInput(soon));
    // Norrbotten does not use SIP-kollen: not asked.
    assert.equal(await mote.getByLabel("Den enskilde erbjöds SIP-kollen").count(), 0);
    assert.deepEqual(await seriousViolations(page), []);
    assert.deepEqual(context.cspViolations, []);
  }));
