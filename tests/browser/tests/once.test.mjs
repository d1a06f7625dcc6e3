// A plan's form is saved once (ADR 0049), in Chromium: a delmål saved, then the browser's Back
// and Spara again. The page Back brings is made anew (it is never cached) with a new key, and
// the browser fills in what was typed: the page's script empties the form it knows was sent and
// says why, so nothing is saved twice. A double click on a slow answer saves once too.

import { test } from "node:test";
import assert from "node:assert/strict";
import { DEMO, PLAN, seriousViolations, signIn, step, submit, withApp } from "../lib/samplan.mjs";

/** The texts of the plan's SubGoalDocumented events, as an auditor reads them. */
async function subGoals(app) {
  const token = app.token(["--role", "auditor", "--sub", "revisor-1", "--name", "Revisor"]);
  const r = await fetch(`${app.base}/api/v1/audit/events?stream=sip-${PLAN.followedUp}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(r.status, 200);
  const body = await r.json();
  return body.events.filter((e) => e.event_type === "SubGoalDocumented").map((e) => e.data.text);
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
