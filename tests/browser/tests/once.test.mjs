// A plan's form is saved once (ADR 0049), in Chromium: a delmål saved, then the browser's Back
// and Spara again. The page Back brings is made anew (it is never cached) with a new key, and
// the browser fills in what was typed: the page's script empties the form it knows was sent and
// says why, so nothing is saved twice. A double click on a slow answer saves once too. Enter in a
// field of a form whose first button shares or sends saves a draft instead.

import { test } from "node:test";
import assert from "node:assert/strict";
import { DEMO, PLAN, seriousViolations, signIn, step, submit, withApp } from "../lib/samplan.mjs";

/** The plan's events, as an auditor reads them. */
async function events(app) {
  const token = app.token(["--role", "auditor", "--sub", "revisor-1", "--name", "Revisor"]);
  const r = await fetch(`${app.base}/api/v1/audit/events?stream=sip-${PLAN.followedUp}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(r.status, 200);
  return (await r.json()).events;
}

/** The texts of the plan's SubGoalDocumented events. */
async function subGoals(app) {
  return (await events(app)).filter((e) => e.event_type === "SubGoalDocumented").map((e) => e.data.text);
}

test("a delmål saved, then Back and Spara, is saved once; so is a double click", { timeout: 240_000 }, () =>
  withApp("once", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    await page.goto(`${app.base}/sip/${PLAN.followedUp}`);
    const before = (await subGoals(app)).length;

    let form = await step(page, "delmal");
    await form.getByLabel(/^Rubrik/).selectOption({ index: 1 });
    await form.getByLabel(/^Delmål/).fill("Gå till affären själv varje vecka.");
    const response = await submit(page, form, "Spara som utkast");
    assert.equal(response.status(), 200);
    assert.equal((await subGoals(app)).length, before + 1);

    // Back: the form that was sent comes back empty, with a notice; Spara then saves nothing.
    await page.goBack();
    form = page.locator("details#delmal");
    await form.locator(".sent-before").waitFor();
    assert.match(await form.locator(".sent-before").innerText(), /redan skickat och sparat/);
    assert.equal(await form.getByLabel(/^Delmål/).inputValue(), "");
    assert.deepEqual(await seriousViolations(page), []);
    const again = await submit(page, form, "Spara som utkast");
    assert.equal(again.status(), 422, "an empty form is refused, not saved");
    assert.equal((await subGoals(app)).length, before + 1, "nothing saved twice");

    // A double click on a slow answer: one delmål.
    await page.goto(`${app.base}/sip/${PLAN.followedUp}`);
    form = await step(page, "delmal");
    await form.getByLabel(/^Rubrik/).selectOption({ index: 1 });
    await form.getByLabel(/^Delmål/).fill("Laga mat två gånger i veckan.");
    await page.route("**/sip/*/delmal", async (route) => {
      const answer = await route.fetch({ maxRedirects: 0 });
      await new Promise((ok) => setTimeout(ok, 1500));
      await route.fulfill({ response: answer });
    });
    const button = form.getByRole("button", { name: /^Spara som utkast/ });
    await Promise.all([
      page.waitForNavigation(),
      (async () => {
        await button.click();
        await page.waitForTimeout(300);
        await button.click({ force: true, noWaitAfter: true }).catch(() => {});
      })(),
    ]);
    await page.unroute("**/sip/*/delmal");
    await page.waitForTimeout(2000);
    const texts = await subGoals(app);
    assert.equal(texts.filter((t) => t === "Laga mat två gånger i veckan.").length, 1, texts.join(" | "));
    await context.close();
  }));

test("Enter in a field of Ny insats saves a draft; it does not share it with every participant", { timeout: 240_000 }, () =>
  withApp("once-enter", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    await page.goto(`${app.base}/sip/${PLAN.followedUp}`);
    const published = (await events(app)).filter((e) => e.event_type === "ContributionPublished").length;

    const form = await step(page, "insats");
    await form.getByLabel(/^Delmål/).selectOption({ index: 1 });
    await form.getByLabel(/^Insats/).fill("Samtal med sjuksköterska varannan vecka");
    await form.getByLabel(/^Kontakt/).fill("0920-28 50 00");
    // The first button the user sees still shares; Enter is not that button.
    assert.match(await form.locator(".buttons button").first().innerText(), /^Spara & dela ut/);
    await Promise.all([page.waitForNavigation(), form.getByLabel(/^Utförs av/).press("Enter")]);
    const item = page.locator("li", { hasText: "Samtal med sjuksköterska varannan vecka" }).first();
    await item.waitFor();
    assert.match(await item.innerText(), /Utkast/, "saved as a draft");
    const after = await events(app);
    assert.equal(after.filter((e) => e.event_type === "InterventionDocumented"
      && e.data.what === "Samtal med sjuksköterska varannan vecka").length, 1);
    assert.equal(after.filter((e) => e.event_type === "ContributionPublished").length, published, "nothing shared");
    // The hidden default is out of the tab order and of what a screen reader is told.
    assert.deepEqual(await seriousViolations(page), []);
    await context.close();
  }));

test("a form sent after signing out in another tab is kept, and sent again once signed in", { timeout: 240_000 }, () =>
  withApp("once-signed-out", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    await page.goto(`${app.base}/sip/${PLAN.followedUp}`);
    const before = (await subGoals(app)).length;
    const form = await step(page, "delmal");
    await form.getByLabel(/^Rubrik/).selectOption({ index: 1 });
    await form.getByLabel(/^Delmål/).fill("Handla själv i affären en gång i veckan.");

    // Meanwhile, "Logga ut" in another tab of the same browser.
    const other = await context.newPage();
    await other.goto(`${app.base}/`);
    await submit(other, other.locator("form.signout"), "Logga ut");

    const refused = await submit(page, form, "Spara som utkast");
    assert.equal(refused.status(), 403);
    assert.equal(await page.locator("h1").innerText(), "Du är inte inloggad längre");
    assert.match(await page.locator("main").innerText(), /Inget sparades/);
    assert.equal(await page.locator(".kept textarea").first().inputValue(), "Handla själv i affären en gång i veckan.");
    assert.equal((await subGoals(app)).length, before, "nothing saved");
    assert.deepEqual(await seriousViolations(page), []);

    // Signed in again in the other tab (the page's link opens a new one), then "Skicka igen".
    await signIn(app, other, DEMO.hcLulea);
    const sent = await submit(page, page.locator("main form"), "Skicka igen");
    assert.equal(sent.status(), 200);
    await page.locator(".goal").getByText("Handla själv i affären en gång i veckan.").waitFor();
    const texts = await subGoals(app);
    assert.equal(texts.length, before + 1);
    assert.equal(texts.filter((t) => t === "Handla själv i affären en gång i veckan.").length, 1);
    assert.deepEqual(context.cspViolations, []);
    await context.close();
  }));
