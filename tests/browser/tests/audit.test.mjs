// Granskning, the auditor's pages, in Chromium: a person asks who has read their data; the
// auditor signs in, types the personnummer (which stays out of the address bar), reads the
// extract, downloads it as a file to hand over, reviews the month's reads and checks that the
// log is untouched. Each page passes axe's serious checks and works at a phone's width.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { DEMO, screenshots, seriousViolations, signIn, withApp } from "../lib/samplan.mjs";

/** Demo person 2, Erik Lindqvist (README). */
const ERIK = "01JGFJJZ000000006Y80002002";
const REVISOR = { button: "Revisor" };

test("an auditor takes a loggutdrag, downloads it, reviews the month and checks the log", { timeout: 240_000 }, () =>
  withApp("audit-pages", async (app) => {
    // A nurse at the hälsocentral opens Erik's page: a read the extract must show.
    const staff = await app.context({ viewport: { width: 1280, height: 900 } });
    const nurse = await staff.newPage();
    await signIn(app, nurse, DEMO.hcLulea);
    await nurse.goto(`${app.base}/patienter/${ERIK}`);
    await nurse.getByRole("heading", { level: 1, name: "Erik Lindqvist" }).waitFor();

    const context = await app.context({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    await signIn(app, page, REVISOR);
    assert.equal(new URL(page.url()).pathname, "/granskning", "an auditor starts at Granskning");
    await page.getByRole("heading", { level: 1, name: "Granskning" }).waitFor();
    assert.deepEqual(await seriousViolations(page), []);
    await page.screenshot({ path: join(screenshots, "granskning.png"), fullPage: true });

    // A mistyped number is said beside the field, and the field says it is wrong.
    const extract = page.locator("form[action='/granskning/loggutdrag']");
    await extract.getByLabel(/^Personnummer/).fill("19620923-9811");
    await Promise.all([page.waitForNavigation(), extract.getByRole("button", { name: "Ta fram loggutdrag" }).click()]);
    const field = page.locator("form[action='/granskning/loggutdrag']").getByLabel(/^Personnummer/);
    assert.equal(await field.getAttribute("aria-invalid"), "true");
    assert.match(await page.locator("#loggutdrag-personnummer-fel").innerText(), /Kontrollsiffran stämmer inte/);
    assert.equal(await field.inputValue(), "19620923-9811", "what was typed is kept");

    await field.fill("19620923-9810");
    await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Ta fram loggutdrag" }).click()]);
    await page.getByRole("heading", { level: 1, name: "Loggutdrag för Erik Lindqvist" }).waitFor();
    assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, `/granskning/loggutdrag/${ERIK}`, "the person's id, never the personnummer, in the address");
    assert.equal(await page.title(), "Loggutdrag – samplan");
    const table = page.getByRole("table", { name: /Läsningar av personens uppgifter/ });
    const read = table.getByRole("row").filter({ hasText: DEMO.hcLulea.sub });
    assert.match(await read.first().innerText(), /Hälsocentralen Centrum, Luleå[\s\S]*personuppgifter lästes/);
    assert.deepEqual(await seriousViolations(page), []);
    await page.screenshot({ path: join(screenshots, "granskning-loggutdrag.png"), fullPage: true });
    // Reloaded (or gone back to), the extract shows again: no form is sent a second time.
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Loggutdrag för Erik Lindqvist" }).waitFor();

    // The file to hand over: the same rows, for a spreadsheet.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Ladda ned loggutdraget som CSV-fil" }).click(),
    ]);
    assert.match(download.suggestedFilename(), /^loggutdrag-19620923-9810-taget-\d{4}-\d{2}-\d{2}\.csv$/, "named for whom and when");
    const csv = await readFile(await download.path(), "utf8");
    assert.match(csv.split("\r\n")[0], /^\uFEFFtid \(svensk tid\);användare;namn;roll;enhet;vårdgivare;vad som lästes/);
    // Fields with a comma are quoted, as spreadsheets read them.
    assert.match(csv, new RegExp(`;${DEMO.hcLulea.sub};[^\\r]*;"Hälsocentralen Centrum, Luleå";Region Norrbotten;personuppgifter lästes;`));

    // The month's review: the form is filled with this month.
    await page.getByRole("link", { name: "Granskning", exact: true }).first().click();
    await page.getByRole("heading", { level: 1, name: "Granskning" }).waitFor();
    await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Granska perioden" }).click()]);
    await page.getByRole("heading", { level: 1, name: "Logguppföljning" }).waitFor();
    assert.match(await page.locator("main").innerText(), /Läsningar utan SIP med personen/);
    assert.deepEqual(await seriousViolations(page), []);

    // The check of the log, and the seal to keep.
    await page.goto(`${app.base}/granskning`);
    await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Kontrollera" }).click()]);
    assert.match(await page.locator("#resultat").innerText(), /^Loggen är hel/);
    assert.match(await page.locator(".digest").innerText(), /^[0-9a-f]{64}$/);
    assert.deepEqual(await seriousViolations(page), []);

    // At a phone's width the extract's table scrolls within itself; the page does not.
    const phone = await app.context({ viewport: { width: 360, height: 740 } });
    const small = await phone.newPage();
    await signIn(app, small, REVISOR);
    await small.goto(`${app.base}/granskning/loggutdrag/${ERIK}`);
    await small.getByRole("heading", { level: 1, name: "Loggutdrag för Erik Lindqvist" }).waitFor();
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page is wider than the phone by ${overflow} px`);
    await small.screenshot({ path: join(screenshots, "granskning-loggutdrag-telefon.png"), fullPage: true });
  }));
