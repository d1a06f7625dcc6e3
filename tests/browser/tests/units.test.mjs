// Enheter, the administrator's page, in Chromium: an administrator signs in, lands on the page,
// is told beside each field what is missing, registers a municipality's unit reached by letter,
// and finds it in the list under its principal. The page passes axe's serious checks.

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { screenshots, seriousViolations, signIn, withApp } from "../lib/samplan.mjs";

const ADMINISTRATOR = { button: "Systemadministratör" };

test("an administrator registers a unit on Enheter", { timeout: 240_000 }, () =>
  withApp("units-page", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, ADMINISTRATOR);
    assert.equal(new URL(page.url()).pathname, "/enheter", "the administrator starts at Enheter");
    await page.getByRole("heading", { level: 1, name: "Enheter" }).waitFor();
    // The demo's units under their principals.
    await page.getByRole("heading", { level: 3, name: /^Region Norrbotten/ }).waitFor();
    await page.getByRole("heading", { level: 3, name: /^Luleå kommun/ }).waitFor();
    assert.deepEqual(await seriousViolations(page), []);

    // Sent empty: a summary at the top names what to correct, each beside its field.
    const form = page.locator("form[action='/enheter']");
    await Promise.all([page.waitForNavigation(), form.getByRole("button", { name: /^Registrera enheten/ }).click()]);
    assert.match(await page.title(), /^Rätta formuläret/, "the tab title says the form has errors");
    await page.getByRole("link", { name: /Enhetens id/ }).first().waitFor();
    assert.equal(await page.locator("form[action='/enheter'] [aria-invalid='true']").count() >= 3, true);
    assert.deepEqual(await seriousViolations(page), []);

    // Filled in: back to the list, which confirms and lists the unit.
    await form.getByLabel(/^Enhetens id/).fill("kalix-socialtjanst");
    await form.getByLabel(/^Enhetens namn/).fill("Socialtjänsten Kalix");
    await form.getByLabel("Kommun", { exact: true }).check();
    await form.getByLabel(/^Huvudmannens namn/).fill("Kalix kommun");
    await form.getByLabel(/^Nej, enheten nås med brev/).check();
    await form.getByLabel(/^Postadress/).fill("Box 10, 952 81 Kalix");
    await Promise.all([page.waitForNavigation(), form.getByRole("button", { name: /^Registrera enheten/ }).click()]);
    await page.getByText("Enheten Socialtjänsten Kalix (kalix-socialtjanst) är registrerad.").waitFor();
    const table = page.getByRole("region", { name: /^Kalix kommun/ }).getByRole("table");
    const row = table.getByRole("row", { name: /Socialtjänsten Kalix/ });
    assert.match(await row.innerText(), /kalix-socialtjanst\s+Nej, brev\s+Box 10, 952 81 Kalix/);
    assert.deepEqual(await seriousViolations(page), []);
    await page.screenshot({ path: join(screenshots, "enheter.png"), fullPage: true });
    await context.close();
  }));
