// A SIP from need to closing through the pages alone (issue 14): a coordinator registers a
// person, starts the plan, records consent, basis, kartläggning and a kallelse to hemtjänsten;
// hemtjänsten, in another browser context, sees the kallelse arrive on its start page without
// reloading, appoints a representative and documents and publishes its intervention; the meeting,
// main goal, follow-up and closing follow; the person reads the published plan on Min plan and
// none of the drafts. Plus: a domain error beside its field, a form with the keyboard alone, axe
// on the SIP page with its forms.

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { DEMO, personnummer, screenshots, seriousViolations, signIn, start, step, submit, withApp } from "../lib/samplan.mjs";

test("a coordinator walks a SIP from need to closing; hemtjänsten joins live; Min plan shows only what was published", { timeout: 300_000 }, () =>
  withApp("walk", async (app) => {
    const coordinatorContext = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await coordinatorContext.newPage();
    await signIn(app, page, DEMO.hcLulea);

    // Sök patient: nobody has the number yet; register the person.
    const pin = personnummer("19790314", "238");
    await page.getByRole("link", { name: "Sök patient" }).click();
    await page.getByRole("searchbox", { name: "Personnummer eller namn" }).fill(pin);
    await submit(page, page.locator("form.search"), "Sök");
    await page.getByText("Ingen person hittades.").waitFor();
    // The form posted: the number is in neither the address nor the history.
    assert.equal(new URL(page.url()).pathname, "/patienter/sok");
    assert.equal(new URL(page.url()).search, "");
    const register = page.locator("details#registrera");
    await register.getByLabel(/^Personnummer eller samordningsnummer/).fill(pin);
    await register.getByLabel(/^Namn/).fill("Stina Webbtest");
    await register.getByLabel("Telefon").fill("070-123 45 67");
    await submit(page, register, "Registrera");
    await page.getByRole("heading", { level: 1, name: "Stina Webbtest" }).waitFor();
    assert.equal(await page.locator("#klart").innerText(), "Personen är registrerad.");
    const personId = new URL(page.url()).pathname.split("/").pop();
    assert.equal(await page.title(), "Patient – samplan", "no name in the title the history keeps");

    // The need, first without a reason: the domain's refusal beside the field, the rest kept.
    const need = page.locator("details#behov");
    await need.getByLabel("Utskrivning från slutenvården").check();
    let response = await submit(page, need, "Starta SIP");
    assert.equal(response.status(), 422);
    const reason = page.locator("#behov-reason");
    assert.match(await reason.getAttribute("aria-describedby"), /behov-reason-fel/);
    assert.equal(await page.locator("#behov-reason-fel").innerText(), "Fyll i det här fältet.");
    // The keyboard is on what to correct, not at the top of the page.
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), "behov-reason");
    // The tab's name says so; one thing to correct needs no list of them.
    assert.equal(await page.title(), "Rätta formuläret – Patient – samplan");
    assert.equal(await page.locator("#behov-att-ratta").count(), 0);
    assert.equal(await page.locator("details#behov").getByLabel("Utskrivning från slutenvården").isChecked(), true, "what was typed is kept");
    await page.locator("details#behov").getByLabel("Öppenvård").check();
    await reason.fill("Behöver samordnat stöd från hälsocentralen och hemtjänsten.");
    await submit(page, page.locator("details#behov"), "Starta SIP");
    await page.getByRole("heading", { level: 1, name: /^SIP för Stina Webbtest/ }).waitFor();
    assert.equal(await page.locator("#klart").innerText(), "SIP:en är startad. Nästa steg är samtycket.");
    const sipUrl = page.url().split("?")[0];

    // Samtycke, covering hemtjänsten too.
    let form = await step(page, "samtycke");
    await form.getByLabel(/Hemtjänst Centrum/).check();
    await form.getByLabel(/^Vad får mötet handla om/).fill("Hemtjänst\nLäkemedel");
    await submit(page, form, "Spara");
    // The page says the step went through, at its top, with the keyboard there.
    assert.equal(await page.locator("#klart").innerText(), "Samtycket är registrerat.");
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), "klart");
    // SIP-underlag: the caller becomes coordinator.
    form = await step(page, "underlag");
    await form.getByLabel("Plan initierad av").fill("Distriktssköterskan");
    await submit(page, form, "Skapa underlag");
    await page.locator(".facts").getByText(DEMO.hcLulea.name).waitFor();
    // Kartläggning under a heading.
    form = await step(page, "kartlaggning");
    await form.getByLabel(/^Rubrik/).selectOption("daily_living");
    await form.getByLabel(/^Kartläggning under rubriken/).fill("Klarar inte inköp och städning själv.");
    await submit(page, form, "Spara");
    await page.locator(".mapping").getByText("Klarar inte inköp och städning själv.").waitFor();
    await page.screenshot({ path: join(screenshots, "sip-forms.png"), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);

    // Hemtjänsten waits on its start page.
    const unitContext = await app.context({ viewport: { width: 1280, height: 900 } });
    const other = await unitContext.newPage();
    await signIn(app, other, DEMO.htLulea);
    await other.locator("body[data-live=on]").waitFor({ timeout: 30_000 });
    await other.evaluate(() => { window.__notReloaded = true; });

    // A kallelse sent with nothing in it: more than one thing to correct, so the form lists them
    // at its top, each a link to its field; a group asks for a choice, not for text.
    form = await step(page, "kallelse");
    await form.getByLabel(/^Den enskilde/).uncheck();
    assert.equal((await submit(page, form, "Skicka")).status(), 422);
    const summary = page.locator("#kallelse-att-ratta");
    assert.match(await summary.innerText(), /^Rätta \d+ uppgifter:/);
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), "kallelse-att-ratta",
      "the list of what to correct is read first");
    assert.ok(await summary.getByRole("link").count() >= 2, await summary.innerText());
    assert.match(await summary.innerText(), /Välj minst ett alternativ\./);
    await page.goto(sipUrl);

    // Kallelse to hemtjänsten; the person is a letter recipient. "Spara" first: kept unsent,
    // only the coordinator's unit sees it, hemtjänsten hears nothing.
    form = await step(page, "kallelse");
    await form.getByLabel(/^Hemtjänst Centrum/).check();
    assert.equal(await form.getByLabel(/^Den enskilde/).isChecked(), true, "a new kallelse goes to the person too");
    await form.getByLabel(/^Syfte med mötet/).fill("Planera stödet i hemmet.");
    await submit(page, form, "Spara");
    await page.locator(".invitation-drafts").getByText(/Sparad, inte skickad/).waitFor();
    assert.equal(await page.locator("#klart").innerText(), "Kallelsen är sparad men inte skickad. Bara er enhet ser den.");
    form = await step(page, "kallelse");
    assert.equal(await form.getByLabel(/^Syfte med mötet/).inputValue(), "Planera stödet i hemmet.", "the saved kallelse is shown again");
    assert.equal(await form.getByLabel(/^Hemtjänst Centrum/).isChecked(), true);
    await other.waitForTimeout(1500);
    assert.equal(await other.locator("#meddelanden li.row").filter({ hasText: "Stina Webbtest" }).count(), 0, "a saved kallelse sends no message");
    // "Skicka": sent now.
    await submit(page, form, "Skicka");
    await page.locator(".invitations").getByText(/\(brev\)/).first().waitFor();
    assert.equal(await page.locator("#klart").innerText(), "Kallelsen är skickad.");
    assert.equal(await page.locator(".invitation-drafts").count(), 0, "the draft is gone once sent");

    // The letter to the person: printed to PDF (A4) and turned into PNG; axe; marked as posted.
    await Promise.all([page.waitForNavigation(), page.getByRole("link", { name: "Brev till Stina Webbtest" }).click()]);
    await page.getByRole("heading", { level: 2, name: "Kallelse till SIP-möte" }).waitFor();
    assert.match(await page.locator("article.letter").innerText(), /Hemtjänst Centrum/, "who else is invited");
    assert.deepEqual(await seriousViolations(page), []);
    const pdf = join(screenshots, "letter.pdf");
    await page.pdf({ path: pdf, format: "A4", preferCSSPageSize: true, printBackground: true });
    execFileSync("pdftoppm", ["-png", "-r", "80", "-singlefile", pdf, join(screenshots, "letter")]);
    await submit(page, page.locator(".letter-tools"), "Markera som postat");
    await page.getByText(/Brevet markerades som postat/).waitFor();
    await page.goto(sipUrl);

    // Hemtjänsten: the kallelse arrives without reloading; it appoints its representative.
    await other.locator("#meddelanden li.row.unread").filter({ hasText: "Stina Webbtest" }).first().waitFor({ timeout: 30_000 });
    assert.equal(await other.evaluate(() => window.__notReloaded), true, "the start page was not reloaded");
    await other.goto(sipUrl);
    form = await step(other, "svar");
    await form.getByLabel(/^Representantens namn/).fill("Anna Hemtjänst");
    await form.getByLabel("Yrke eller titel").fill("Biståndshandläggare");
    await submit(other, form, "Utse representant");
    await other.locator(".invitations").getByText(/Representant: Anna Hemtjänst/).waitFor();

    // The coordinator moves the meeting; hemtjänsten reads the new time on its start page.
    const later = new Date(Date.now() + 9 * 86_400_000);
    const pad = (n) => String(n).padStart(2, "0");
    const newTime = `${later.getFullYear()}-${pad(later.getMonth() + 1)}-${pad(later.getDate())}T10:00`;
    await page.goto(sipUrl);
    form = await step(page, "flytta");
    await form.getByLabel(/^Ny tid/).fill(newTime);
    await form.getByLabel(/^Anledning/).fill("Lokalen är upptagen.");
    await submit(page, form, "Flytta mötet");
    await other.goto(`${app.base}/`);
    await other.locator("#meddelanden li.row").filter({ hasText: /Ny tid/ }).first().waitFor({ timeout: 30_000 });

    // The coordinator records the meeting and the main goal, published.
    await page.goto(sipUrl);
    form = await step(page, "mote");
    // Everyone called is there to tick, the coordinator first (seed 002: "Markera vilka som deltagit").
    assert.equal(await form.getByLabel(/\(du\)/).isChecked(), true);
    assert.equal(await form.getByLabel("Den enskilde", { exact: true }).isChecked(), true);
    await form.getByLabel(/^Mötessekreterare/).fill("Anna Hemtjänst");
    await submit(page, form, "Registrera mötet");
    form = await step(page, "huvudmal");
    await form.getByLabel(/^Huvudmål/).fill("Jag vill bo kvar hemma och klara vardagen.");
    await submit(page, form, "Spara & dela ut");
    // A draft of the coordinator's that is never published.
    form = await step(page, "delmal");
    await form.getByLabel(/^Rubrik/).selectOption("physical_health");
    await form.getByLabel(/^Delmål/).fill("Utkast som inte ska synas");
    await submit(page, form, "Spara som utkast");
    await page.locator(".goal").getByText("Utkast som inte ska synas").waitFor();

    // Hemtjänsten documents its sub-goal and intervention and publishes them.
    await other.goto(sipUrl);
    form = await step(other, "delmal");
    await form.getByLabel(/^Rubrik/).selectOption("daily_living");
    await form.getByLabel(/^Delmål/).fill("Hemmet är städat och det finns mat.");
    await submit(other, form, "Spara som utkast");
    form = await step(other, "insats");
    // No sub-goal is chosen for the unit; its own come first, each saying whose it is.
    const goal = form.getByLabel(/^Delmål/);
    assert.equal(await goal.inputValue(), "");
    assert.match(await goal.locator("option").nth(1).innerText(), /Hemmet är städat och det finns mat\. \(er enhet\)$/);
    await goal.selectOption({ index: 1 });
    await form.getByLabel(/^Insats/).fill("Hemtjänst med städning och inköp varje vecka");
    await form.getByLabel(/^Kontakt/).fill("0920-45 00 00");
    await submit(other, form, "Spara & dela ut");
    assert.doesNotMatch(await other.locator("main").innerText(), /Utkast som inte ska synas/, "another unit's draft is not shown");

    // Follow-up and closing.
    await page.goto(sipUrl);
    form = await step(page, "uppfoljning");
    await form.getByLabel("Huvudmålet är uppnått").check();
    // Each published sub-goal and intervention is judged, as in Lifecare: one group of radio
    // buttons each, "inte bedömt" until chosen.
    const goalGroup = form.getByRole("group", { name: "Delmål: Hemmet är städat och det finns mat" });
    assert.equal(await goalGroup.getByLabel("Inte bedömt den här gången").isChecked(), true);
    await goalGroup.getByLabel("Uppnått", { exact: true }).check();
    await form.getByRole("group", { name: "Insats: Hemtjänst med städning och inköp varje vecka" })
      .getByLabel("Fortsätter").check();
    await submit(page, form, "Registrera uppföljning");

    // The person reads the published plan on Min plan, none of the drafts.
    const personContext = await app.context({ viewport: { width: 360, height: 740 }, isMobile: true });
    const citizen = await personContext.newPage();
    const token = app.token(["--role", "citizen", "--sub", personId, "--name", "Stina Webbtest", "--personal-identity-number", pin]);
    await citizen.goto(`${app.base}/logga-in`);
    await citizen.getByLabel("Token (JWT) från inloggningstjänsten").fill(token);
    await submit(citizen, citizen.locator("form.token-form"), "Logga in");
    await citizen.goto(`${app.base}/min-plan`);
    const planLink = citizen.locator("main a[href^='/min-plan/']").first();
    if (await planLink.count()) await Promise.all([citizen.waitForNavigation(), planLink.click()]);
    const text = await citizen.locator("main").innerText();
    assert.match(text, /Jag vill bo kvar hemma och klara vardagen\./);
    assert.match(text, /Hemtjänst med städning och inköp varje vecka/);
    assert.match(text, /Målet är nått/, "the follow-up's judgement of the sub-goal");
    assert.doesNotMatch(text, /Utkast som inte ska synas/);
    assert.doesNotMatch(text, /Utkast/);

    form = await step(page, "avslut");
    await form.getByLabel("Målen är uppnådda").check();
    // Closing cannot be undone: it is confirmed first.
    const unconfirmed = await submit(page, form, "Avsluta planen");
    assert.equal(unconfirmed.status(), 422);
    assert.match(await page.locator("#avslut-bekrafta-fel").innerText(), /det går inte att ångra/);
    form = page.locator("details#avslut");
    await form.getByLabel(/^Jag vill avsluta/).check();
    await submit(page, form, "Avsluta planen");
    await page.locator(".facts").getByText("Avslutad").first().waitFor();
    assert.equal(await page.locator("details.step").count(), 0, "a closed plan offers no forms");
    assert.deepEqual(coordinatorContext.cspViolations, []);
    assert.deepEqual(unitContext.cspViolations, []);
  }));

test("a person is registered with the keyboard alone", { timeout: 180_000 }, () =>
  withApp("keyboard", async (app) => {
    const context = await app.context();
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    await page.goto(`${app.base}/patienter`);
    const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent?.trim() || "");
    async function tabTo(target) {
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press("Tab");
        // A form's button is named with its step for screen readers: "Registrera – …".
        const at = await focused();
        if (at === target || at.startsWith(`${target} – `)) return;
      }
      throw new Error(`Tab never reached ${target}`);
    }
    await tabTo("registrera-personal-identity-number");
    await page.keyboard.type(personnummer("19850620", "417"));
    await tabTo("registrera-name");
    await page.keyboard.type("Tangent Bordsson");
    await tabTo("Registrera");
    await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
    await page.getByRole("heading", { level: 1, name: "Tangent Bordsson" }).waitFor();
  }));
