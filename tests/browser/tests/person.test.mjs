// The person's page after review findings 1 and 15: it lists the plans the caller's unit takes
// part in (open ones first, closed ones marked "Avslutad"), says so above "Starta SIP" when one is
// under way and starts another only when "Starta ändå en ny plan" is ticked; a plan of other units
// only is neither listed nor hinted at. Phone and address are changed on the page, a relative is
// removed, and registering a number that is already registered links to that person. Each test
// runs its own `samplan serve --demo` (lib/samplan.mjs).

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEMO, PLAN, screenshots, seriousViolations, signIn, staffToken, step, submit, withApp } from "../lib/samplan.mjs";

/** Demo persons (README): 1 Astrid Nilsson (plan 1, kallelse sent, hälsocentralen coordinates),
 * 2 Erik Lindqvist (plan 2, psykiatrin's and socialtjänsten's only), 4 Karin Öberg (plan 4,
 * hälsocentralen's), 11 Nora Sandberg (protected identity, no plan). */
const ASTRID = "01JGFJJZ000000006Y80002001";
const ERIK = "01JGFJJZ000000006Y80002002";
const KARIN = "01JGFJJZ000000006Y80002004";
const NORA = "01JGFJJZ000000006Y8000200B";
const INVITED = "01JGFJJZ000000006Y80004001";

/** The links of the "SIP" section, as [href, text of the row]. */
async function plans(page) {
  return page.locator("#sip li").evaluateAll((rows) =>
    rows.map((li) => [li.querySelector("a")?.getAttribute("href"), li.innerText.replace(/\s+/g, " ").trim()]));
}

/** The rows of Pågående SIP on the start page that are about `name`. */
async function ongoingRowsFor(app, page, name) {
  await page.goto(`${app.base}/`);
  return page.locator("#pagaende li").filter({ hasText: name }).count();
}

test("the person page lists the unit's plans; another plan needs a confirmation; other units' plans stay hidden", { timeout: 300_000 }, () =>
  withApp("person-plans", async (app) => {
    // Karin's plan is closed: it is listed after the open ones, as "Avslutad".
    const token = staffToken(app, DEMO.hcLulea);
    const closed = await app.post(`/sips/${PLAN.followedUp}/close-plan`, token, { reason: "no_longer_needed", note: "Behovet av samordning finns inte längre." });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));

    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    const rowsBefore = await ongoingRowsFor(app, page, "Astrid Nilsson");
    assert.equal(rowsBefore, 1);

    // Astrid: her plan, its phase in Swedish and its coordinator, and a link to it.
    await page.goto(`${app.base}/patienter/${ASTRID}`);
    let listed = await plans(page);
    assert.equal(listed.length, 1, JSON.stringify(listed));
    assert.equal(listed[0][0], `/sip/${INVITED}`);
    assert.match(listed[0][1], /Kallelse skickad/);
    assert.match(listed[0][1], /Samordningsansvarig: .+ \(din enhet\)/);
    // Above Starta SIP: she already has a plan under way, with a link to it.
    const notice = page.locator("#pagaende-sip");
    assert.match(await notice.innerText(), /^Astrid Nilsson har redan en pågående SIP som din enhet deltar i\./);
    assert.equal(await notice.getByRole("link").getAttribute("href"), `/sip/${INVITED}`);
    await page.screenshot({ path: join(screenshots, "person-with-plan.png"), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);

    // Without "Starta ändå en ny plan" the form is refused beside the box; nothing is created.
    let need = await step(page, "behov");
    const reason = "Ny bedömning efter fallolycka; hemtjänsten behöver utökas.";
    await need.getByLabel(/^Varför behövs en SIP/).fill(reason);
    const refused = await submit(page, need, "Starta SIP");
    assert.equal(refused.status(), 422);
    assert.match(await page.locator("#behov-start-anyway-fel").innerText(), /^Personen har redan en pågående SIP\. Kryssa i ”Starta ändå en ny plan”/);
    assert.match(await page.locator("#behov-start-anyway").getAttribute("aria-describedby"), /behov-start-anyway-fel/);
    need = page.locator("details#behov");
    assert.equal(await need.getByLabel(/^Varför behövs en SIP/).inputValue(), reason, "what was typed is kept");
    assert.equal((await plans(page)).length, 1, "no plan was started");
    await page.goto(`${app.base}/patienter/${ASTRID}`);
    assert.equal((await plans(page)).length, 1, "no plan was started");
    assert.equal(await ongoingRowsFor(app, page, "Astrid Nilsson"), 1, "Pågående SIP has no new row");

    // Ticked, a new plan is started; the person page lists both, the newest first.
    await page.goto(`${app.base}/patienter/${ASTRID}`);
    need = await step(page, "behov");
    await need.getByLabel(/^Varför behövs en SIP/).fill(reason);
    await need.getByLabel("Starta ändå en ny plan").check();
    await submit(page, need, "Starta SIP");
    await page.getByRole("heading", { level: 1, name: /^SIP för Astrid Nilsson/ }).waitFor();
    const started = new URL(page.url()).pathname;
    await page.goto(`${app.base}/patienter/${ASTRID}`);
    listed = await plans(page);
    assert.deepEqual(listed.map(([href]) => href), [started, `/sip/${INVITED}`]);
    assert.match(listed[0][1], /Inväntar samtycke/);
    assert.match(await page.locator("#pagaende-sip").innerText(), /^Astrid Nilsson har redan 2 pågående SIP/);

    // Karin: only a closed plan, so no notice, no box, and Starta SIP open as usual.
    await page.goto(`${app.base}/patienter/${KARIN}`);
    listed = await plans(page);
    assert.equal(listed.length, 1);
    assert.equal(listed[0][0], `/sip/${PLAN.followedUp}`);
    assert.match(listed[0][1], /Avslutad .*Samordningsansvarig: /);
    assert.equal(await page.locator("#pagaende-sip").count(), 0);
    assert.equal(await page.locator("details#behov").getByLabel("Starta ändå en ny plan").count(), 0);
    assert.equal(await page.locator("details#behov").evaluate((d) => d.open), true);

    // Erik: his plan is psykiatrin's and socialtjänsten's. Nothing tells the hälsocentral of it,
    // and a plan is started without any confirmation.
    await page.goto(`${app.base}/patienter/${ERIK}`);
    assert.equal(await page.locator("#sip li").count(), 0);
    assert.equal(await page.locator("#sip p").innerText(), "Din enhet deltar inte i någon SIP för personen.");
    assert.equal(await page.locator("#pagaende-sip").count(), 0);
    const text = await page.locator("main").innerText();
    assert.doesNotMatch(text, /pågående|Starta ändå|01JGFJJZ000000006Y80004002/i);
    assert.equal(await page.locator(`a[href^="/sip/"]`).count(), 0);
    need = await step(page, "behov");
    await need.getByLabel(/^Varför behövs en SIP/).fill("Behöver stöd från hälsocentralen kring läkemedel.");
    await submit(page, need, "Starta SIP");
    await page.getByRole("heading", { level: 1, name: /^SIP för Erik Lindqvist/ }).waitFor();
    assert.deepEqual(context.cspViolations, []);
  }));

test("contact details are changed, a relative is removed, and a registered number links to its person", { timeout: 300_000 }, () =>
  withApp("person-edit", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    await page.goto(`${app.base}/patienter/${ASTRID}`);
    const facts = page.locator(".facts");
    const fact = (label) => facts.locator(`dt:text-is("${label}") + dd`).innerText();

    // Ändra kontaktuppgifter: filled in with what is known, saved, shown.
    let form = await step(page, "kontaktuppgifter");
    assert.equal(await form.getByLabel(/^Telefon/).inputValue(), "0920-123 01");
    assert.equal(await form.getByLabel(/^Adress/).inputValue(), "Skeppsbrogatan 12, 972 31 Luleå");
    await form.getByLabel(/^Telefon/).fill("070-555 12 34");
    await form.getByLabel(/^Adress/).fill("Storgatan 1, 972 31 Luleå");
    await submit(page, form, "Spara");
    assert.equal(await fact("Telefon"), "070-555 12 34");
    assert.equal(await fact("Adress"), "Storgatan 1, 972 31 Luleå");
    // An emptied field means not known.
    form = await step(page, "kontaktuppgifter");
    await form.getByLabel(/^Adress/).fill("");
    await submit(page, form, "Spara");
    assert.equal(await fact("Adress"), "Inte registrerad");
    assert.equal(await fact("Telefon"), "070-555 12 34");

    // Ta bort: the daughter is removed; a page from before that offers it again is told so.
    const stale = await context.newPage();
    await stale.goto(`${app.base}/patienter/${ASTRID}`);
    const relatives = page.locator("#narstaende-lista");
    assert.match(await relatives.innerText(), /Anna Nilsson/);
    await submit(page, relatives, "Ta bort Anna Nilsson");
    assert.doesNotMatch(await page.locator("#narstaende-lista").innerText(), /Anna Nilsson/);
    await page.locator("#narstaende-lista").getByText("Inga närstående registrerade.").waitFor();
    const again = await submit(stale, stale.locator("#narstaende-lista"), "Ta bort Anna Nilsson");
    assert.equal(again.status(), 422);
    assert.equal(await stale.locator("#narstaende-fel").innerText(), "Den närstående är redan borttagen.");
    await stale.close();

    // Registering Astrid's number again: refused, with a link to her.
    await page.goto(`${app.base}/patienter`);
    let register = page.locator("details#registrera");
    await register.getByLabel(/^Personnummer eller samordningsnummer/).fill("193806149807");
    await register.getByLabel(/^Namn/).fill("Astrid Dubblett");
    const duplicate = await submit(page, register, "Registrera");
    assert.equal(duplicate.status(), 422);
    assert.equal(await page.locator("#registrera-personal-identity-number-fel").innerText(), "Personen är redan registrerad.");
    const existing = page.locator("#redan-registrerad");
    assert.equal(await existing.innerText(), "Personen är redan registrerad. Öppna Astrid Nilsson (19380614-9807)");
    await page.screenshot({ path: join(screenshots, "person-already-registered.png"), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);
    await Promise.all([page.waitForNavigation(), existing.getByRole("link").click()]);
    assert.equal(new URL(page.url()).pathname, `/patienter/${ASTRID}`);
    await page.getByRole("heading", { level: 1, name: "Astrid Nilsson" }).waitFor();

    // A person with protected identity whose name the unit may not see: the link, not the name,
    // as Sök patient shows the number.
    await page.goto(`${app.base}/patienter`);
    register = page.locator("details#registrera");
    await register.getByLabel(/^Personnummer eller samordningsnummer/).fill("19850312-9903");
    await register.getByLabel(/^Namn/).fill("Någon Annan");
    assert.equal((await submit(page, register, "Registrera")).status(), 422);
    assert.equal(await page.locator("#redan-registrerad").innerText(), "Personen är redan registrerad. Öppna personen (19850312-9903) Skyddade personuppgifter");
    assert.equal(await page.locator("#redan-registrerad a").getAttribute("href"), `/patienter/${NORA}`);
    assert.doesNotMatch(await page.locator("main").innerText(), /Nora|Sandberg/);

    // With protected identity there is no form for phone and address, which are not shown.
    await page.goto(`${app.base}/patienter/${NORA}`);
    assert.equal(await page.locator("details#kontaktuppgifter").count(), 0);
    assert.deepEqual(context.cspViolations, []);
  }));
