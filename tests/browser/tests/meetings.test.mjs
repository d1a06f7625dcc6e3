// The SIP page after review findings 5, 10 and 12: a "Möten" section shows each meeting held and
// each follow-up recorded with its outcomes, newest first, as Min plan shows the person; a
// participating unit follows up its own interventions (and only those); a unit with items already
// published says "nothing new from us" after a later meeting; a child's kallelse goes to the
// guardians unless unticked; and a staff session for a unit samplan does not know is refused, as
// the API refuses its token. Each test runs its own `samplan serve --demo` (lib/samplan.mjs).

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEMO, PLAN, screenshots, seriousViolations, signIn, staffToken, start, step, submit, withApp } from "../lib/samplan.mjs";

/** Demo plan 3 (README): Elsa Berg, a child; socialtjänsten in Boden coordinates; meeting held. */
const CHILD_PLAN = "01JGFJJZ000000006Y80004003";
const SOC_BODEN = { button: "Socialtjänsten Boden, barn och unga" };

/** The value of a row of an entry's facts in the Möten section. */
async function meetingFact(entry, label) {
  return entry.locator(`dt:text-is("${label}") + dd`).innerText();
}

test("a unit follows up its own interventions, and Möten shows it beside the meeting", { timeout: 300_000 }, () =>
  withApp("meetings-own-follow-up", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.htLulea);
    await page.goto(`${app.base}/sip/${PLAN.followedUp}`);

    // Möten before: the coordinator's follow-up a month ago, then the SIP-möte, newest first.
    const entries = page.locator("#moten li.meeting");
    assert.equal(await entries.count(), 2);
    assert.match(await entries.nth(0).locator("h3").innerText(), /^Uppföljning /);
    assert.match(await entries.nth(1).locator("h3").innerText(), /^SIP-möte /);
    const meeting = entries.nth(1);
    assert.equal(await meetingFact(meeting, "Mötesledare"), "Distriktssköterska, Hälsocentralen Centrum");
    assert.equal(await meetingFact(meeting, "Mötessekreterare"), "Biståndshandläggare, hemtjänsten Luleå");
    assert.match(await meetingFact(meeting, "Deltagare"), /Biståndshandläggare, hemtjänsten Luleå, Hemtjänst Centrum/);
    assert.match(await meetingFact(meeting, "Mötesform"), /^Fysiskt möte, Hälsocentralen, konferensrummet$/);
    assert.equal(await meetingFact(meeting, "SIP-kollen"), "Erbjuden");
    assert.ok((await meetingFact(meeting, "Uppföljning bestämd till")).length > 0);
    const earlier = entries.nth(0);
    assert.match(await meetingFact(earlier, "Uppföljd av"), /^Samordningsansvarig, Distriktssköterska, Hälsocentralen Centrum/);
    assert.match(await earlier.locator(".intervention-outcomes").innerText(), /Hemtjänst stöttar vid matlagning tre dagar i veckan \(Hemtjänst Centrum\) – Ändrad\nMinskas till två dagar i veckan\./);
    assert.match(await earlier.locator(".goal-outcomes").innerText(), /Delmål: Klara matlagning med stöd – Uppnått/);
    assert.match(await earlier.locator(".goal-outcomes").innerText(), /Huvudmål: .* – Inte uppnått/);

    // Hemtjänsten's form lists its own intervention only, without the whole plan's fields.
    assert.equal(await page.locator("details#uppfoljning").count(), 0, "the whole plan's form is the coordinator's");
    const form = await step(page, "uppfoljning-insatser");
    const selects = form.locator("select");
    assert.equal(await selects.count(), 1, "one own intervention");
    const formText = await form.innerText();
    assert.match(formText, /Hemtjänst stöttar vid matlagning/);
    assert.doesNotMatch(formText, /Diabetessköterska/, "hälsocentralen's intervention is its own to follow up");
    const labels = (await form.locator("label, legend").allInnerTexts()).join(" | ");
    assert.doesNotMatch(labels, /Nästa uppföljning|Huvudmålet är uppnått|Uppföljningsmöte|Delmål som/, labels);

    // Nothing judged: refused beside the outcome, the page kept.
    const refused = await submit(page, form, "Registrera uppföljningen");
    assert.equal(refused.status(), 422);
    assert.match(await page.locator("details#uppfoljning-insatser").innerText(), /Välj utfallet för minst en insats/);

    const again = await step(page, "uppfoljning-insatser");
    await again.getByLabel(/: utfall$/).selectOption("completed");
    await again.getByLabel(/: kommentar$/).fill("Karin lagar nu maten själv.");
    await again.getByLabel(/^Anteckning/).fill("Uppföljt med Karin per telefon.");
    await submit(page, again, "Registrera uppföljningen");

    // The command took effect: the newest entry in Möten is hemtjänsten's, with its outcome.
    await page.locator("#moten li.meeting").first().getByText("Avslutad").waitFor();
    const newest = page.locator("#moten li.meeting").first();
    assert.equal(await page.locator("#moten li.meeting").count(), 3);
    assert.match(await meetingFact(newest, "Uppföljd av"), /^Hemtjänst Centrum \(egna insatser\), Biståndshandläggare, hemtjänsten Luleå$/);
    assert.match(await newest.locator(".intervention-outcomes").innerText(), /Hemtjänst stöttar vid matlagning tre dagar i veckan \(Hemtjänst Centrum\) – Avslutad\nKarin lagar nu maten själv\./);
    assert.match(await newest.innerText(), /Anteckning: Uppföljt med Karin per telefon\./);
    await page.locator("#moten").screenshot({ path: join(screenshots, "sip-meetings.png") });
    assert.deepEqual(await seriousViolations(page), []);

    // The coordinator's page shows it too.
    const coordinatorContext = await app.context({ viewport: { width: 1280, height: 900 } });
    const coordinator = await coordinatorContext.newPage();
    await signIn(app, coordinator, DEMO.hcLulea);
    await coordinator.goto(`${app.base}/sip/${PLAN.followedUp}`);
    const seen = coordinator.locator("#moten li.meeting").first();
    assert.match(await meetingFact(seen, "Uppföljd av"), /^Hemtjänst Centrum \(egna insatser\)/);
    assert.match(await seen.innerText(), /– Avslutad\nKarin lagar nu maten själv\./);
    assert.equal(await coordinator.locator("details#uppfoljning-insatser").count(), 0, "the coordinator has the whole plan's form");
    assert.equal(await coordinator.locator("details#uppfoljning").count(), 1);
    assert.deepEqual(context.cspViolations, []);
    assert.deepEqual(coordinatorContext.cspViolations, []);
  }));

test("after a later meeting, a unit with items published says it has nothing new", { timeout: 300_000 }, () =>
  withApp("meetings-nothing-new", async (app) => {
    // A second SIP-möte in plan 4 with hemtjänsten, through the API (sent a few seconds ahead,
    // then recorded once its time has passed).
    const coordinatorToken = staffToken(app, DEMO.hcLulea);
    const soon = new Date(Date.now() + 3_000);
    const sent = await app.post(`/sips/${PLAN.followedUp}/send-invitation`, coordinatorToken, {
      invitation_id: "andra-motet",
      purpose: "meeting",
      scheduled_at: soon.toISOString(),
      form: "video",
      place: "Länk i kallelsen",
      reason: "Nytt SIP-möte om planen",
      recipients: [{ kind: "unit", unit_id: DEMO.htLulea.unit }, { kind: "person" }],
    });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    while (Date.now() < soon.getTime() + 1_000) await new Promise((r) => setTimeout(r, 250));
    const held = await app.post(`/sips/${PLAN.followedUp}/record-meeting`, coordinatorToken, {
      invitation_id: "andra-motet",
      held_at: new Date().toISOString(),
      attendees: [
        { name: DEMO.hcLulea.name, role: "staff", unit_id: DEMO.hcLulea.unit },
        { name: DEMO.htLulea.name, role: "staff", unit_id: DEMO.htLulea.unit },
      ],
      chair: DEMO.hcLulea.name,
      secretary: DEMO.htLulea.name,
      follow_up_on: new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10),
    });
    assert.equal(held.status, 200, JSON.stringify(held.body));

    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.htLulea);
    const row = page.locator("#pagaende li.row").filter({ hasText: "Karin Öberg" });
    await row.getByText("Er dokumentation saknas").waitFor({ timeout: 30_000 });
    await page.goto(`${app.base}/sip/${PLAN.followedUp}`);
    // The new meeting is the newest entry of Möten, by video.
    assert.match(await page.locator("#moten li.meeting").first().locator("h3").innerText(), /^SIP-möte /);
    assert.match(await meetingFact(page.locator("#moten li.meeting").first(), "Mötesform"), /^Videomöte/);
    const form = await step(page, "inga-insatser");
    assert.match(await form.locator("summary").innerText(), /Inget nytt att dela ut från oss/);
    await submit(page, form, "Inget nytt att dela ut från oss");
    assert.equal(await page.locator("details#inga-insatser").count(), 0, "done once");
    assert.match(await page.locator(".history li").first().innerText(), /Inga nya delmål eller insatser att dela ut/);
    await page.goto(`${app.base}/`);
    await row.waitFor();
    for (let i = 0; i < 60 && (await row.getByText("Er dokumentation saknas").count()) > 0; i++) {
      await page.waitForTimeout(500);
      await page.reload();
    }
    assert.equal(await row.getByText("Er dokumentation saknas").count(), 0, "the warning is gone");
    assert.deepEqual(context.cspViolations, []);
  }));

test("a child's new kallelse goes to the guardians too; a saved one keeps what it had", { timeout: 300_000 }, () =>
  withApp("meetings-child-kallelse", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, SOC_BODEN);
    await page.goto(`${app.base}/sip/${CHILD_PLAN}`);
    let form = await step(page, "kallelse");
    const recipients = form.locator("fieldset").filter({ hasText: "Mottagare" });
    assert.equal(await recipients.getByLabel(/^Den enskilde/).isChecked(), true);
    assert.equal(await recipients.getByLabel(/^Maria Berg/).isChecked(), true, "a guardian is ticked");
    assert.equal(await recipients.getByLabel(/^Johan Berg/).isChecked(), true, "each guardian is ticked");
    assert.equal(await recipients.getByLabel(/^Hälsocentralen Boden/).isChecked(), true,
      "after the meeting, the units taking part are ticked (a follow-up is called as a SIP-möte is)");

    // Saved with one guardian unticked: the draft keeps it so.
    await recipients.getByLabel(/^Johan Berg/).uncheck();
    await form.getByLabel(/^Syfte med mötet/).fill("Uppföljning av Elsas plan");
    await submit(page, form, "Spara");
    await page.reload();
    form = await step(page, "kallelse");
    const saved = form.locator("fieldset").filter({ hasText: "Mottagare" });
    assert.equal(await saved.getByLabel(/^Maria Berg/).isChecked(), true);
    assert.equal(await saved.getByLabel(/^Johan Berg/).isChecked(), false, "the draft keeps what it had");

    // Sent: the kallelse goes to the person and Maria Berg by letter.
    await submit(page, form, "Skicka");
    const sent = page.locator(".invitations li").first();
    await sent.waitFor();
    const text = await sent.innerText();
    assert.match(text, /Maria Berg \(brev\)/);
    assert.doesNotMatch(text, /Johan Berg/);
    assert.deepEqual(context.cspViolations, []);

    // An adult's new kallelse after the meeting ticks the person and the unit taking part, and
    // no guardian (plan 4, Karin Öberg, no guardians; hemtjänsten takes part).
    const adult = await app.context();
    const other = await adult.newPage();
    await signIn(app, other, DEMO.hcLulea);
    await other.goto(`${app.base}/sip/${PLAN.followedUp}`);
    const adultForm = await step(other, "kallelse");
    const adultRecipients = adultForm.locator("fieldset").filter({ hasText: "Mottagare" });
    assert.equal(await adultRecipients.getByLabel(/^Den enskilde/).isChecked(), true);
    assert.equal(await adultRecipients.getByLabel(/^Hemtjänst Centrum/).isChecked(), true);
    assert.equal(await adultRecipients.locator("input:checked").count(), 2, "the person and hemtjänsten only");
  }));

test("a staff session for a unit samplan does not know is refused, as the API refuses it", { timeout: 300_000 }, () =>
  withApp("meetings-unit-unknown", async (app) => {
    const token = app.token(["--role", "staff", "--sub", "SE2321000016-OKND", "--unit", "okand-enhet", "--name", "Okänd Person"]);
    const api = await fetch(`${app.base}/api/v1/inbox/messages`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(api.status, 403);
    assert.equal((await api.json()).code, "unit_unknown");

    const context = await app.context();
    const page = await context.newPage();
    // At sign-in: refused with the reason, no session set.
    await page.goto(`${app.base}/logga-in`);
    await page.getByLabel("Token (JWT) från inloggningstjänsten").fill(token);
    const answer = await submit(page, page.locator("form.token-form"), "Logga in");
    assert.equal(answer.status(), 403);
    assert.match(await page.locator("main").innerText(), /inte registrerad i samplan/);
    assert.equal((await context.cookies()).some((c) => c.name.endsWith("samplan_session")), false);

    // A session cookie carrying such a token (set before the unit was removed, or by hand).
    const url = new URL(app.base);
    await context.addCookies([{ name: "samplan_session", value: token, domain: url.hostname, path: "/", httpOnly: true, sameSite: "Strict" }]);
    for (const path of ["/", `/sip/${PLAN.followedUp}`]) {
      const response = await page.goto(`${app.base}${path}`);
      assert.equal(response.status(), 403, path);
      const text = await page.locator("main").innerText();
      assert.match(text, /Du har inte behörighet/);
      assert.match(text, /Enheten i inloggningen \(”okand-enhet”\) är inte registrerad i samplan/);
    }
  }));
