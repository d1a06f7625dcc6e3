// Uppföljning, the follow-up page, in Chromium: someone who follows SIP up for the region signs
// in, lands on the page, asks for a year per region and per unit, reads the month's table,
// downloads the same report for a spreadsheet, and is told beside the field what a wrong month
// was. The page passes axe's serious checks and works at a phone's width.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { screenshots, seriousViolations, signIn, withApp } from "../lib/samplan.mjs";

const UPPFOLJARE = { button: "Uppföljare" };

/** `YYYY-MM` of the Swedish month `months` from now. */
function month(months) {
  const now = new Date();
  const parts = new Intl.DateTimeFormat("sv-SE", { timeZone: "Europe/Stockholm", year: "numeric", month: "2-digit" })
    .formatToParts(now);
  const year = Number(parts.find((p) => p.type === "year").value);
  const m = Number(parts.find((p) => p.type === "month").value) - 1 + months;
  const y = year + Math.floor(m / 12);
  return `${y}-${String(((m % 12) + 12) % 12 + 1).padStart(2, "0")}`;
}

test("a follow-up reads a year's figures per region and unit and downloads them", { timeout: 240_000 }, () =>
  withApp("reports-page", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    await signIn(app, page, UPPFOLJARE);
    assert.equal(new URL(page.url()).pathname, "/uppfoljning", "the follow-up starts at Uppföljning");
    await page.getByRole("heading", { level: 1, name: "Uppföljning av SIP" }).waitFor();
    assert.deepEqual(await seriousViolations(page), []);

    // The last twelve months per region: the demo's plans started lately.
    const form = page.locator("form[action='/uppfoljning']");
    await form.getByLabel(/^Från och med månad/).fill(month(-11));
    await form.getByLabel(/^Till och med månad/).fill(month(0));
    await form.getByLabel("Region", { exact: true }).check();
    // Small figures are hidden unless asked for: the report is what gets handed on.
    assert.ok(await form.getByLabel(/^Dölj tal som bygger på färre än 3 planer/).isChecked(), "small figures hidden by default");
    await Promise.all([page.waitForNavigation(), form.getByRole("button", { name: "Visa nyckeltalen" }).click()]);
    assert.match(new URL(page.url()).search, new RegExp(`fran=${month(-11)}&till=${month(0)}&grupp=region`), "a report is an address");
    await page.getByRole("heading", { level: 2, name: /per region$/ }).waitFor();
    // One table for the region, a row per month with figures.
    await page.getByRole("heading", { level: 3, name: "Region Norrbotten" }).waitFor();
    const table = page.getByRole("region", { name: "Region Norrbotten" }).getByRole("table");
    const months = table.getByRole("rowheader");
    assert.ok(await months.count() >= 1, "at least one month has figures");
    assert.match(await months.first().innerText(), /^[a-zåäö]+ \d{4}$/, "a month in words");
    // Each row gives every figure (a dash where nothing was judged).
    const cells = await months.first().locator("xpath=..").getByRole("cell").allInnerTexts();
    assert.equal(cells.length, 9, `nine figures: ${cells}`);
    assert.match(cells[0], /^\d+$/, "started, a count");
    // A dash (no figure) is read out in words: punctuation is silent to a screen reader.
    const dashes = table.locator("td", { hasText: "–" });
    assert.ok(await dashes.count() > 0, "the demo has months without some figure");
    assert.equal(await dashes.first().locator(".visually-hidden").innerText(), "ingen uppgift");
    // The columns are named, the grouped ones under their group.
    assert.ok(await table.getByRole("columnheader", { name: "till första mötet" }).count() === 1);
    // On a desktop's width the whole table shows: its cells wrap between figures.
    const wider = await page.locator(".table-wrap").first().evaluate((wrap) => wrap.scrollWidth - wrap.clientWidth);
    assert.ok(wider <= 0, `the table is wider than its box by ${wider} px`);
    assert.deepEqual(await seriousViolations(page), []);
    await page.screenshot({ path: join(screenshots, "uppfoljning.png"), fullPage: true });

    // The same report as a file, named for its period and grouping.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Hämta rapporten som CSV-fil" }).click(),
    ]);
    assert.match(download.suggestedFilename(), new RegExp(`^sip-nyckeltal-${month(-11)}-${month(0)}-region-sma-tal-dolda-\\d{4}-\\d{2}-\\d{2}\\.csv$`));
    const csv = await readFile(await download.path(), "utf8");
    const lines = csv.split("\r\n");
    assert.match(lines[0], /^\uFEFFmonth;group_id;group_name;group_principal;sips_started;/);
    assert.ok(lines.some((l) => /;Region Norrbotten;Region Norrbotten;;(\d+|<3);/.test(l)), csv);
    assert.match(lines[0], /;as_of;policy$/, "the file says when and under which profile");

    // Per unit, the units by name.
    await page.locator("form[action='/uppfoljning']").getByLabel("Enhet", { exact: true }).check();
    await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Visa nyckeltalen" }).click()]);
    await page.getByRole("heading", { level: 2, name: /per enhet$/ }).waitFor();
    await page.getByRole("heading", { level: 3, name: /^Hälsocentralen Centrum, Luleå/ }).waitFor();

    // A month that ends before it starts is said beside its field, and nothing is shown.
    const again = page.locator("form[action='/uppfoljning']");
    await again.getByLabel(/^Till och med månad/).fill(month(-12));
    await Promise.all([page.waitForNavigation(), again.getByRole("button", { name: "Visa nyckeltalen" }).click()]);
    const till = page.locator("form[action='/uppfoljning']").getByLabel(/^Till och med månad/);
    assert.equal(await till.getAttribute("aria-invalid"), "true");
    assert.match(await page.locator("#rapport-till-fel").innerText(), /samma månad som från och med eller senare/);
    assert.equal(await page.getByRole("table").count(), 0);
    assert.deepEqual(await seriousViolations(page), []);

    // At a phone's width the month's table scrolls within itself; the page does not.
    const phone = await app.context({ viewport: { width: 375, height: 740 } });
    const small = await phone.newPage();
    await signIn(app, small, UPPFOLJARE);
    await small.goto(`${app.base}/uppfoljning?fran=${month(-11)}&till=${month(0)}&grupp=region`);
    await small.getByRole("heading", { level: 2, name: /per region$/ }).waitFor();
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page is wider than the phone by ${overflow} px`);
    await small.screenshot({ path: join(screenshots, "uppfoljning-telefon.png"), fullPage: true });
  }));
