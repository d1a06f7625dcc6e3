// Consent on the staff SIP page (review findings 1, 2, 8, 10 and 12): the "Samtycke" section shows
// the consent in force; staff renew consent on a plan that is under way; a declined consent is
// registered and the noticing unit closes the case; a withdrawn consent leaves the coordinator
// only closing; a new kallelse has the person ticked; a unit with nothing to document clears
// "Er dokumentation saknas". Each test runs its own `samplan serve --demo` (lib/samplan.mjs).

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEMO, PLAN, screenshots, seriousViolations, signIn, staffToken, start, step, submit, withApp } from "../lib/samplan.mjs";

/** Demo plans (README): 1 invited, 8 a need noticed yesterday, 10 basis created. */
const PLANS = {
  invited: "01JGFJJZ000000006Y80004001",
  needIdentified: "01JGFJJZ000000006Y80004008",
  basisCreated: "01JGFJJZ000000006Y8000400A",
};
/** More demo staff, by the unit their sign-in button names. */
const PSYKIATRI = { button: "Psykiatriska mottagningen Luleå" };
const SOCIALTJANST = { button: "Socialtjänsten Luleå, vuxenenheten" };

const MONTHS = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december"];
const pad = (n) => String(n).padStart(2, "0");
/** A date `days` from today: [the `<input type=date>` value, as the page writes it ("3 maj 2028")]. */
function dayFromNow(days) {
  const d = new Date(Date.now() + days * 86_400_000);
  return [`${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`, `${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()}`];
}

test("the SIP page shows the consent in force, and staff renew it on a plan under way", { timeout: 180_000 }, () =>
  withApp("consent-renew", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    // Plan 4 is followed up: long past its SIP-underlag, still consent can be given anew.
    await page.goto(`${app.base}/sip/${PLAN.followedUp}`);
    const consent = page.locator("#samtycket");
    await consent.getByText("Samtycke finns").waitFor();
    const given = consent.locator("dl.consent-given").first();
    assert.equal(await given.locator("dt:has-text('Lämnat av') + dd").innerText(), "Den enskilde");
    assert.match(await given.innerText(), /Hemtjänst Centrum/, "the actors covered");
    assert.match(await given.innerText(), /Psykisk hälsa/, "the topics covered");
    assert.match(await given.locator("dt:has-text('Gäller till och med') + dd").innerText(), /^\d{1,2} [a-z]+ \d{4}$/);

    const form = await step(page, "samtycke");
    assert.equal(await form.locator("summary").innerText(), "Nytt samtycke");
    // The last consent's actors and topics are filled in, to change what has changed.
    assert.equal(await form.getByLabel(/^Hemtjänst Centrum/).isChecked(), true);
    assert.equal(await form.getByLabel(/^Hälsocentralen Centrum, Luleå/).isChecked(), true);
    assert.match(await form.getByLabel(/^Vad får mötet handla om/).inputValue(), /Psykisk hälsa/);

    // A date that has passed: the domain's refusal beside the field, what was typed kept.
    const [yesterday] = dayFromNow(-1);
    await form.getByLabel(/^Samtycket gäller till och med/).fill(yesterday);
    await form.getByLabel(/^Vad får mötet handla om/).fill("Fysisk hälsa\nPsykisk hälsa\nHem och vardag\nEkonomi");
    const refused = await submit(page, form, "Spara");
    assert.equal(refused.status(), 422);
    assert.match(await page.locator("#samtycke-valid-until").getAttribute("aria-describedby"), /samtycke-valid-until-fel/);
    assert.match(await page.locator("#samtycke-valid-until-fel").innerText(), /\S/);
    assert.match(await page.locator("#samtycke-topics").inputValue(), /Ekonomi/, "what was typed is kept");

    // Renewed for two years: the page shows the new end date and the new topic.
    const [until, untilText] = dayFromNow(730);
    await page.locator("#samtycke-valid-until").fill(until);
    await submit(page, page.locator("details#samtycke"), "Spara");
    await consent.locator("dl.consent-given").first().waitFor();
    const renewed = consent.locator("dl.consent-given").first();
    assert.equal(await renewed.locator("dt:has-text('Gäller till och med') + dd").innerText(), untilText);
    assert.match(await renewed.innerText(), /Ekonomi/);
    assert.equal(await consent.locator("dl.consent-given").count(), 1, "the renewal replaces the old consent on the page");
    assert.match(await page.locator(".history").innerText(), /Samtycke givet av den enskilde/);
    // Finding 12: the fixed care contacts of plan 1 are on its page.
    await page.goto(`${app.base}/sip/${PLANS.invited}`);
    assert.match(await page.locator(".facts").first().innerText(), /Fast vårdkontakt\s+Distriktssköterska, Hälsocentralen Centrum/);
    await page.goto(`${app.base}/sip/${PLAN.followedUp}`);
    await page.screenshot({ path: join(screenshots, "sip-consent.png"), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);
    assert.deepEqual(context.cspViolations, []);
  }));

test("a declined consent is registered and the unit that noticed the need closes the case", { timeout: 180_000 }, () =>
  withApp("consent-declined", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    await page.goto(`${app.base}/sip/${PLANS.needIdentified}`);
    await page.locator("#samtycket").getByText("Samtycke saknas").waitFor();
    // No coordinator yet: closing is offered to the unit that noticed the need, not yet open.
    assert.equal(await page.locator("details#avslut summary").innerText(), "Avsluta ärendet");

    const form = await step(page, "samtycke-nekat");
    assert.equal(await form.getByLabel("Den enskilde", { exact: true }).isChecked(), true);
    await form.getByLabel(/^Anteckning/).fill("Vill inte ha en SIP nu. Dokumenterat i journalen.");
    await submit(page, form, "Registrera nekat samtycke");

    const consent = page.locator("#samtycket");
    await consent.getByText("Samtycke nekat", { exact: true }).waitFor();
    assert.match(await consent.innerText(), /Samtycke nekades av den enskilde/);
    assert.match(await consent.innerText(), /Dokumenterat i journalen\./);
    assert.match(await page.locator(".facts").first().innerText(), /Fas\s+Samtycke nekat/);
    assert.equal(await page.locator("details#samtycke-nekat").count(), 0, "declined once is enough");
    // Closing is now the next step, with the reason chosen and nothing the domain would refuse.
    const close = page.locator("details#avslut");
    assert.equal(await close.evaluate((d) => d.open), true);
    assert.equal(await close.getByLabel("Samtycke nekades").isChecked(), true);
    assert.equal(await close.getByLabel("Målen är uppnådda").count(), 0);
    await page.screenshot({ path: join(screenshots, "sip-consent-declined.png"), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);

    await close.getByLabel(/^Jag vill avsluta/).check();
    await submit(page, close, "Avsluta ärendet");
    await page.locator(".facts").getByText(/Samtycke nekades/).waitFor();
    assert.match(await page.locator(".facts").first().innerText(), /Avslutad\s+i dag kl\. \d\d\.\d\d: Samtycke nekades/);
    assert.equal(await page.locator("details.step").count(), 0, "a closed case offers no forms");
    assert.deepEqual(context.cspViolations, []);
  }));

test("a participating unit registers withdrawn consent; the coordinator can then only close", { timeout: 180_000 }, () =>
  withApp("consent-withdrawn", async (app) => {
    // Plan 2: psykiatrin coordinates, socialtjänsten takes part and is told of the withdrawal.
    const socialContext = await app.context({ viewport: { width: 1280, height: 900 } });
    const social = await socialContext.newPage();
    await signIn(app, social, SOCIALTJANST);
    await social.goto(`${app.base}/sip/${PLAN.published}`);
    const form = await step(social, "samtycke-aterkallat");
    await form.getByLabel(/^Anteckning/).fill("Sa det i telefon till handläggaren i dag.");
    // It cannot be undone: sent without the confirmation (as Enter on the chosen radio button
    // sends it), nothing is registered and the box says why.
    const unconfirmed = await submit(social, form, "Registrera återkallat samtycke");
    assert.equal(unconfirmed.status(), 422);
    const again = social.locator("details#samtycke-aterkallat");
    assert.match(await social.locator("#samtycke-aterkallat-bekrafta-fel").innerText(), /det går inte att ångra/);
    assert.equal(await again.getByLabel(/^Samtycket är återkallat/).getAttribute("aria-invalid"), "true");
    await again.getByLabel(/^Samtycket är återkallat/).check();
    await submit(social, again, "Registrera återkallat samtycke");
    const consent = social.locator("#samtycket");
    await consent.getByText("Samtycket återkallat", { exact: true }).waitFor();
    assert.match(await consent.innerText(), /Samtycket återkallades av den enskilde/);
    assert.equal(await consent.locator("dl.consent-given").count(), 0, "no consent is in force");
    assert.equal(await social.locator("details.step").count(), 0, "only the coordinator has something left to do");

    const coordinatorContext = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await coordinatorContext.newPage();
    await signIn(app, page, PSYKIATRI);
    await page.goto(`${app.base}/sip/${PLAN.published}`);
    const steps = await page.locator("details.step").evaluateAll((els) => els.map((e) => e.id));
    assert.deepEqual(steps, ["avslut"], "withdrawn consent leaves closing only");
    const close = page.locator("details#avslut");
    assert.equal(await close.evaluate((d) => d.open), true);
    assert.equal(await close.getByLabel("Samtycket är återkallat").isChecked(), true);
    await close.getByLabel(/^Jag vill avsluta/).check();
    await submit(page, close, "Avsluta planen");
    assert.match(await page.locator(".facts").first().innerText(), /Avslutad\s+i dag kl\. \d\d\.\d\d: Samtycket är återkallat/);
    assert.deepEqual(socialContext.cspViolations, []);
    assert.deepEqual(coordinatorContext.cspViolations, []);
  }));

test("a new kallelse has the person ticked; a saved one keeps what it had", { timeout: 180_000 }, () =>
  withApp("kallelse-person", async (app) => {
    const context = await app.context();
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    await page.goto(`${app.base}/sip/${PLANS.basisCreated}`);
    let form = await step(page, "kallelse");
    assert.equal(await form.getByLabel(/^Den enskilde/).isChecked(), true, "the person is invited by default");
    assert.equal(await form.getByLabel(/^Hemtjänst Centrum/).isChecked(), false);
    await form.getByLabel(/^Den enskilde/).uncheck();
    await form.getByLabel(/^Hemtjänst Centrum/).check();
    await form.getByLabel(/^Syfte med mötet/).fill("Planera stödet efter strokeen.");
    await submit(page, form, "Spara");
    await page.locator(".invitation-drafts").getByText(/Sparad, inte skickad/).waitFor();
    form = await step(page, "kallelse");
    assert.equal(await form.getByLabel(/^Den enskilde/).isChecked(), false, "the saved kallelse keeps the person unticked");
    assert.equal(await form.getByLabel(/^Hemtjänst Centrum/).isChecked(), true);
  }));

test("a unit with nothing to document clears “Er dokumentation saknas”", { timeout: 180_000 }, () =>
  withApp("no-contribution", async (app) => {
    // Plan 1: hälsocentralen coordinates; hemtjänsten has appointed its representative.
    const coordinatorContext = await app.context();
    const page = await coordinatorContext.newPage();
    await signIn(app, page, DEMO.hcLulea);
    await page.goto(`${app.base}/sip/${PLANS.invited}`);
    assert.match(await page.locator(".invitations").innerText(), /Representant: Biståndshandläggare, hemtjänsten Luleå \(biståndshandläggare\), Hemtjänst Centrum/);
    // The ward, called too, has not named its representative: the coordinator sees it.
    assert.match(await page.locator(".invitations").innerText(), /Har inte utsett representant ännu: Vårdavdelning 61/);
    const meeting = await step(page, "mote");
    await meeting.getByLabel(/^Mötessekreterare/).fill("Biståndshandläggare, hemtjänsten Luleå");
    await submit(page, meeting, "Registrera mötet");
    await page.locator(".facts").getByText("SIP-möte hållet").waitFor();

    const unitContext = await app.context({ viewport: { width: 1280, height: 900 } });
    const other = await unitContext.newPage();
    await signIn(app, other, DEMO.htLulea);
    const row = other.locator("#pagaende li.row").filter({ hasText: "Astrid Nilsson" });
    await row.getByText("Er dokumentation saknas").waitFor({ timeout: 30_000 });
    await other.goto(`${app.base}/sip/${PLANS.invited}`);
    const form = await step(other, "inga-insatser");
    await submit(other, form, "Vi har inga delmål eller insatser i planen");
    assert.equal(await other.locator("details#inga-insatser").count(), 0, "done once");
    assert.match(await other.locator(".history li").first().innerText(), /Inga nya delmål eller insatser att dela ut/);
    await other.goto(`${app.base}/`);
    await row.waitFor();
    for (let i = 0; i < 60 && (await row.getByText("Er dokumentation saknas").count()) > 0; i++) {
      await other.waitForTimeout(500);
      await other.reload();
    }
    assert.equal(await row.getByText("Er dokumentation saknas").count(), 0, "the warning is gone");
    assert.deepEqual(coordinatorContext.cspViolations, []);
    assert.deepEqual(unitContext.cspViolations, []);
  }));

test("a närstående is called only when the consent lets the meeting invite them", { timeout: 180_000 }, () =>
  withApp("consent-relatives", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    // Plan 1: Astrid Nilsson agreed that her daughter may be invited.
    await page.goto(`${app.base}/sip/${PLANS.invited}`);
    const given = page.locator("#samtycket dl.consent-given").first();
    assert.equal(await given.locator("dt:has-text('Närstående som får bjudas in') + dd").innerText(), "Anna Nilsson");
    const kallelseLabel = async () => (await page.locator("details#kallelse label", { hasText: "Anna Nilsson" })
      .textContent()).replace(/\s+/g, " ").trim();
    assert.equal(await kallelseLabel(), "Anna Nilsson brev");

    // A new consent without her: the form offers the närstående, ticked as before.
    let form = await step(page, "samtycke");
    const daughter = form.getByRole("group", { name: /^Närstående som får bjudas in/ }).getByLabel("Anna Nilsson");
    assert.equal(await daughter.isChecked(), true);
    await daughter.uncheck();
    await submit(page, form, "Spara");
    assert.equal(await page.locator("#samtycket dl.consent-given").first()
      .locator("dt:has-text('Närstående som får bjudas in') + dd").innerText(), "Inga");

    // The kallelse marks her as left out of the consent; sent to her anyway, it is refused
    // beside the recipients, saying why.
    form = await step(page, "kallelse");
    const recipients = form.getByRole("group", { name: /^Mottagare/ });
    assert.equal(await kallelseLabel(), "Anna Nilsson inte med i samtycket");
    await form.getByLabel(/^Syfte med mötet/).fill("Planera hemgången");
    await recipients.getByLabel(/^Anna Nilsson/).check();
    const refused = await submit(page, form, "Skicka");
    assert.equal(refused.status(), 422);
    assert.match(await page.locator("details#kallelse").innerText(), /Samtycket omfattar inte att Anna Nilsson bjuds in/);
    assert.deepEqual(await seriousViolations(page), []);

    // A consent recorded without saying (an API client that does not ask): the page says so.
    const unsaid = await app.post(`/sips/${PLANS.invited}/record-consent`, staffToken(app, DEMO.hcLulea), {
      given_by: { kind: "person" },
      actors: ["nll-sunderby-avd61", "nll-hc-centrum-lulea", "lulea-hemtjanst-centrum"],
      topics: ["Hemgång"],
      valid_until: dayFromNow(300)[0],
    });
    assert.equal(unsaid.status, 200, JSON.stringify(unsaid.body));
    await page.goto(`${app.base}/sip/${PLANS.invited}?efter=${unsaid.body.position}`);
    assert.match(await page.locator("#samtycket dl.consent-given").first()
      .locator("dt:has-text('Närstående som får bjudas in') + dd").innerText(), /^Inte angivet i samtycket/);
    assert.deepEqual(context.cspViolations, []);
  }));
