// The web pages in a real browser: signing in, the start page and its live updates, CSRF, the
// 404 page for a plan another unit runs, Min plan on a phone, and axe-core on the pages. Each test
// runs its own `samplan serve --demo` on its own database (lib/samplan.mjs).

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEMO, PLAN, screenshots, seriousViolations, signIn, staffToken, start, withApp } from "../lib/samplan.mjs";

/** The hälsocentral's coordinator (through the API) invites hemtjänsten to a follow-up of the
 * followed-up plan, two weeks ahead: a new message on hemtjänsten's start page. */
async function inviteHemtjanstToFollowUp(app, invitationId) {
  const coordinator = staffToken(app, DEMO.hcLulea);
  const at = new Date(Date.now() + 14 * 86_400_000);
  at.setUTCHours(12, 0, 0, 0);
  const sent = await app.post(`/sips/${PLAN.followedUp}/send-invitation`, coordinator, {
    invitation_id: invitationId, purpose: "follow_up", scheduled_at: at.toISOString(),
    form: "in_person", place: "Hälsocentralen", reason: "Uppföljning av planen",
    recipients: [{ kind: "unit", unit_id: DEMO.htLulea.unit }],
  });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
}

test("a demo coordinator signs in and sees the start page as Lifecare showed it", { timeout: 180_000 }, () =>
  withApp("start-page", async (app) => {
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    assert.equal(new URL(page.url()).pathname, "/");
    await page.getByRole("heading", { level: 1, name: "Start" }).waitFor();
    for (const name of [/^Meddelanden/, /^Att göra/, /^Pågående SIP/]) {
      await page.getByRole("heading", { level: 2, name }).waitFor();
    }
    // Every item of the demo plans this unit coordinates is there; overdue to-dos carry the red
    // clock with words, and due dates are in Swedish words.
    await page.locator("#pagaende").getByRole("link", { name: /Karin Öberg/ }).waitFor();
    const clocks = page.locator("#att-gora .clock");
    assert.ok((await clocks.count()) > 0, "a red clock on an urgent or overdue to-do");
    assert.match(await clocks.first().innerText(), /^(Försenad sedan|Brådskande)/);
    assert.match(await page.locator("#att-gora").innerText(), /(Senast|senast) (i dag|i morgon|måndag|tisdag|onsdag|torsdag|fredag|lördag|söndag)/);
    // Unread messages first.
    const rows = await page.locator("#meddelanden li.row").evaluateAll((els) => els.map((e) => e.classList.contains("unread")));
    assert.deepEqual(rows, [...rows].sort((a, b) => Number(b) - Number(a)), "unread before read");
    // The page's headers: no inline script, nothing from another host, no framing.
    const response = await page.request.get(`${app.base}/`);
    const csp = response.headers()["content-security-policy"];
    assert.match(csp, /default-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(response.headers()["x-frame-options"], "DENY");
    assert.equal(response.headers()["x-content-type-options"], "nosniff");
    await page.screenshot({ path: join(screenshots, "start.png"), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);
    assert.deepEqual(context.cspViolations, []);
  }));

test("a colleague sees the unit's to-dos, a coordinator's too, under Hela enheten", { timeout: 180_000 }, () =>
  withApp("unit-todos", async (app) => {
    // A colleague of the hälsocentral's coordinator, signed in with a session of their own.
    const colleague = app.token(["--role", "staff", "--sub", "SE2321000016-DHC9", "--unit", DEMO.hcLulea.unit, "--name", "Kollega, Hälsocentralen Centrum"]);
    const context = await app.context({ viewport: { width: 1280, height: 900 } });
    await context.addCookies([{ name: "samplan_session", value: colleague, url: app.base }]);
    const page = await context.newPage();
    await page.goto(`${app.base}/`);
    const todos = page.locator("#att-gora");
    await todos.getByRole("heading", { level: 2, name: /^Att göra/ }).waitFor();
    // "Mina": the unit's own and the colleague's; none of the coordinator's.
    assert.equal(await todos.locator("[aria-current=true]").innerText(), "Mina");
    const mine = await todos.locator("li.row").count();
    assert.equal(await todos.locator("li.row").filter({ hasText: /Tilldelad (?!dig)/ }).count(), 0);
    assert.equal(await todos.locator("li.row").filter({ hasText: "Astrid Nilsson" }).filter({ hasText: /per brev/ }).count(), 0,
      "the coordinator's letters are not the colleague's to-dos");
    // But "Mina" says they lie with colleagues, with a way to them.
    assert.match(await todos.locator("p.colleagues").innerText(), /^\d+ att göra ligger hos kollegor på enheten.* Visa hela enheten$/);

    // "Hela enheten": the coordinator's to-dos too (the letters of plan 1 to post), marked with
    // the colleague's name.
    await Promise.all([page.waitForNavigation(), todos.getByRole("link", { name: "Hela enheten", exact: true }).click()]);
    assert.equal(new URL(page.url()).searchParams.get("att_gora"), "enheten");
    assert.equal(await todos.locator("[aria-current=true]").innerText(), "Hela enheten");
    const letters = todos.locator("li.row").filter({ hasText: "Astrid Nilsson" }).filter({ hasText: /per brev/ });
    await letters.first().waitFor();
    assert.match(await letters.first().innerText(), /Tilldelad Distriktssköterska, Hälsocentralen Centrum/);
    assert.ok((await todos.locator("li.row").count()) > mine, "more to-dos for the whole unit");
    // The live update keeps the choice: the lists are fetched with the page's own query.
    await page.locator("body[data-live=on]").waitFor({ timeout: 30_000 });
    const fragment = await page.request.get(`${app.base}/start/listor?att_gora=enheten`);
    assert.match(await fragment.text(), /Tilldelad Distriktssköterska, Hälsocentralen Centrum/);
    await page.screenshot({ path: join(screenshots, "start-unit-todos.png"), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);
    assert.deepEqual(context.cspViolations, []);

    // Back to "Mina".
    await Promise.all([page.waitForNavigation(), todos.getByRole("link", { name: "Mina" }).click()]);
    assert.equal(await todos.locator("li.row").count(), mine);
  }));

test("a second unit sees a new message arrive without reloading", { timeout: 180_000 }, () =>
  withApp("live", async (app) => {
    const context = await app.context();
    const page = await context.newPage();
    await signIn(app, page, DEMO.htLulea);
    await page.locator("body[data-live=on]").waitFor({ timeout: 30_000 });
    await page.evaluate(() => { window.__notReloaded = true; });
    const before = await page.locator("#meddelanden li.row").count();
    // The keyboard is on the first plan link of Pågående SIP.
    const firstPlan = page.locator("#pagaende li.row a").first();
    const planHref = await firstPlan.getAttribute("href");
    await firstPlan.focus();

    // The coordinator (in another context, through the API) invites hemtjänsten to a follow-up.
    await inviteHemtjanstToFollowUp(app, "webbtest-uppfoljning");

    await page.locator("#meddelanden li.row.unread").filter({ hasText: "Karin Öberg" }).first().waitFor({ timeout: 30_000 });
    await page.waitForFunction((n) => document.querySelectorAll("#meddelanden li.row").length > n, before);
    assert.equal(await page.evaluate(() => window.__notReloaded), true, "the page was not reloaded");
    await page.locator("#live-status", { hasText: /nytt meddelande/i }).waitFor({ timeout: 5_000 });
    // The update kept the keyboard where it was (WCAG 2.4.3), not on the page's body.
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.getAttribute("href")), planHref);
    await page.screenshot({ path: join(screenshots, "start-live.png"), fullPage: true });

    // Updating can be turned off (WCAG 2.2.2), remembered across pages: a change is then only
    // told, and the lists come when it is turned on again.
    await page.getByLabel("Uppdatera listorna automatiskt").uncheck();
    const held = await page.locator("#meddelanden li.row").count();
    await inviteHemtjanstToFollowUp(app, "webbtest-uppfoljning-2");
    await page.locator("#live-status", { hasText: /Det finns ändringar/ }).waitFor({ timeout: 30_000 });
    assert.equal(await page.locator("#meddelanden li.row").count(), held, "the lists stood still");
    await page.reload();
    assert.equal(await page.getByLabel("Uppdatera listorna automatiskt").isChecked(), false, "the choice is remembered");
    await page.locator("body[data-live=on]").waitFor({ timeout: 30_000 });
    const now = await page.locator("#meddelanden li.row").count();
    await inviteHemtjanstToFollowUp(app, "webbtest-uppfoljning-3");
    await page.locator("#live-status", { hasText: /Det finns ändringar/ }).waitFor({ timeout: 30_000 });
    await page.getByLabel("Uppdatera listorna automatiskt").check();
    await page.waitForFunction((n) => document.querySelectorAll("#meddelanden li.row").length > n, now);
    assert.deepEqual(await seriousViolations(page), []);
    assert.deepEqual(context.cspViolations, []);
  }));

test("a live update keeps what was typed in the filter, and signing out elsewhere takes the lists away", { timeout: 180_000 }, () =>
  withApp("live-signout", async (app) => {
    const context = await app.context();
    const page = await context.newPage();
    await signIn(app, page, DEMO.htLulea);
    await page.locator("body[data-live=on]").waitFor({ timeout: 30_000 });
    // Half a date typed into the open filter, the keyboard still in the field.
    await page.locator("details.filters summary").click();
    await page.locator("#sedan").fill("2026-0");
    const before = await page.locator("#meddelanden li.row").count();
    await inviteHemtjanstToFollowUp(app, "webbtest-filter");
    await page.waitForFunction((n) => document.querySelectorAll("#meddelanden li.row").length > n, before);
    assert.equal(await page.locator("#sedan").inputValue(), "2026-0", "the typing survived the update");
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), "sedan");

    // "Logga ut" in another tab: this one stops showing patients and says why.
    const other = await context.newPage();
    await other.goto(`${app.base}/`);
    await other.getByRole("button", { name: "Logga ut" }).click();
    await other.waitForURL(/\/logga-in/);
    await other.getByRole("status").filter({ hasText: "Du är utloggad." }).waitFor({ timeout: 5_000 });
    await page.locator(".signed-out").waitFor({ timeout: 30_000 });
    assert.equal(await page.locator("#pagaende, #meddelanden, #att-gora").count(), 0, "no list of patients left");
    // The keyboard was in the lists' filter, which went with them: it is on the notice now, which
    // is read out as it takes focus; the countdown's own alert is put away (one message).
    assert.match(await page.locator(".signed-out").innerText(), /loggat ut/);
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.className), "notice signed-out");
    assert.equal(await page.locator("#inloggning-slutar:visible").count(), 0);
    assert.equal(await page.getByRole("link", { name: "Logga in igen" }).getAttribute("href"), "/logga-in");
    assert.deepEqual(await seriousViolations(page), []);
    assert.deepEqual(context.cspViolations, []);
  }));

test("lists that could not be fetched are fetched again, and marking read moves on to the next message", { timeout: 180_000 }, () =>
  withApp("live-retry", async (app) => {
    const context = await app.context();
    const page = await context.newPage();
    await signIn(app, page, DEMO.htLulea);
    await page.locator("body[data-live=on]").waitFor({ timeout: 30_000 });
    const before = await page.locator("#meddelanden li.row").count();
    // The first fetch of the lists after a change fails (a gateway restarting behind the
    // balancer); the page says so once and tries again by itself.
    let refused = 0;
    await page.route("**/start/listor*", (route) => {
      if (refused === 0) { refused += 1; return route.fulfill({ status: 503, body: "" }); }
      return route.continue();
    });
    await inviteHemtjanstToFollowUp(app, "webbtest-igen");
    await page.locator("#live-status", { hasText: /kunde inte uppdateras/ }).waitFor({ timeout: 10_000 });
    await page.waitForFunction((n) => document.querySelectorAll("#meddelanden li.row").length > n, before, { timeout: 30_000 });
    await page.locator("#live-status", { hasText: /uppdaterade igen/ }).waitFor({ timeout: 5_000 });
    assert.equal(refused, 1);
    await page.unroute("**/start/listor*");

    // "Markera som läst" on the first unread message: the keyboard goes on to the next message.
    const rows = page.locator("#meddelanden li.row");
    const first = rows.filter({ has: page.locator("form.row-action") }).first();
    const firstId = await first.getAttribute("data-message");
    const ids = await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-message")));
    const next = ids[ids.indexOf(firstId) + 1];
    assert.ok(next, "a message after the first unread one");
    await Promise.all([page.waitForNavigation(), first.locator("form.row-action button").click()]);
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), `meddelande-${next}`);
    assert.deepEqual(context.cspViolations, []);
  }));

test("a live stream the server refuses is opened again from freshly read lists", { timeout: 180_000 }, () =>
  withApp("live-reopen", async (app) => {
    const context = await app.context();
    // The first two attempts to open the stream are refused, as after a restore of the database
    // (400 position_unknown: the page's position is one this database has not reached).
    let refused = 0;
    let listsRead = 0;
    await context.route("**/start/handelser*", (route) => {
      if (refused < 2) {
        refused += 1;
        return route.fulfill({
          status: 400,
          contentType: "application/problem+json",
          body: JSON.stringify({ code: "position_unknown", status: 400 }),
        });
      }
      return route.continue();
    });
    await context.route("**/start/listor*", (route) => { listsRead += 1; return route.continue(); });
    const page = await context.newPage();
    await signIn(app, page, DEMO.htLulea);
    await page.evaluate(() => { window.__notReloaded = true; });
    // The page reads its lists again and opens the stream from where they stand, by itself.
    await page.locator("body[data-live=on]").waitFor({ timeout: 30_000 });
    assert.equal(refused, 2);
    assert.ok(listsRead >= 1, "the lists were read afresh before the stream was opened again");
    await page.locator("#live-status", { hasText: /Kontakten är tillbaka/ }).waitFor({ timeout: 5_000 });
    // And it is live: a new message arrives without a reload.
    const before = await page.locator("#meddelanden li.row").count();
    await inviteHemtjanstToFollowUp(app, "webbtest-ateroppnad");
    await page.waitForFunction((n) => document.querySelectorAll("#meddelanden li.row").length > n, before, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.__notReloaded), true, "the page was not reloaded");
    assert.deepEqual(context.cspViolations, []);
  }));

test("a page warns before the sign-in ends, and signing in again in another tab keeps its forms", { timeout: 180_000 }, () =>
  withApp("session-ends", async (app) => {
    const context = await app.context();
    const page = await context.newPage();
    // A sign-in that ends in a minute and a half (a minute and the leeway).
    const person = DEMO.hcLulea;
    const short = app.token(["--role", "staff", "--sub", person.sub, "--unit", person.unit, "--name", person.name, "--ttl-minutes", "1"]);
    await page.goto(`${app.base}/logga-in`);
    await page.locator("#token").fill(short);
    await Promise.all([page.waitForNavigation(), page.locator("form.token-form").getByRole("button", { name: "Logga in" }).click()]);
    const warning = page.locator("#inloggning-slutar");
    await warning.waitFor({ state: "visible", timeout: 5_000 });
    assert.match(await warning.innerText(), /Din inloggning slutar kl\. \d{1,2}\.\d{2}\./);
    assert.equal(await warning.getAttribute("role"), "alert");
    // Far down the page the warning is still at the top of the window.
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    assert.ok(await page.evaluate(() => window.scrollY) > 200, "the page scrolled");
    const box = await warning.boundingBox();
    assert.ok(box && box.y >= 0 && box.y < 10, `the warning is at y=${box && box.y}`);
    assert.deepEqual(await seriousViolations(page), []);

    // Signed in again in another tab (the warning's link): this tab's form still goes through.
    const other = await context.newPage();
    await other.goto(`${app.base}/logga-in`);
    await Promise.all([
      other.waitForNavigation(),
      other.getByRole("button", { name: new RegExp(`^${person.button}`) }).click(),
    ]);
    const unreadBefore = await page.locator("#meddelanden li.row.unread").count();
    const [response] = await Promise.all([
      page.waitForNavigation(),
      page.locator("#meddelanden form.row-action button").first().click(),
    ]);
    assert.equal(response.status(), 200);
    assert.equal(await page.locator("#meddelanden li.row.unread").count(), unreadBefore - 1);
    assert.deepEqual(context.cspViolations, []);
  }));

test("a form posted without its CSRF token is refused", { timeout: 180_000 }, () =>
  withApp("csrf", async (app) => {
    const context = await app.context();
    const page = await context.newPage();
    await signIn(app, page, DEMO.hcLulea);
    // The "mark as read" form of the first unread message, its token taken out.
    const form = page.locator("#meddelanden form.row-action").first();
    await form.waitFor();
    await form.evaluate((f) => f.querySelector("input[name=_csrf]").remove());
    const [response] = await Promise.all([
      page.waitForNavigation(),
      form.getByRole("button").click(),
    ]);
    assert.equal(response.status(), 403);
    await page.getByRole("heading", { level: 1, name: "Formuläret kunde inte tas emot" }).waitFor();
    // A token of another session is refused too, and the same form with its token works.
    const refused = await page.request.post(`${app.base}/logga-ut`, { form: { _csrf: "00".repeat(32) } });
    assert.equal(refused.status(), 403);
    await page.goto(`${app.base}/`);
    const unreadBefore = await page.locator("#meddelanden li.row.unread").count();
    await Promise.all([page.waitForNavigation(), page.locator("#meddelanden form.row-action button").first().click()]);
    assert.equal(await page.locator("#meddelanden li.row.unread").count(), unreadBefore - 1);
  }));

test("a plan another unit runs gives the 404 page, as one that does not exist", { timeout: 180_000 }, () =>
  withApp("not-found", async (app) => {
    const context = await app.context();
    const page = await context.newPage();
    await signIn(app, page, DEMO.htLulea);
    for (const id of [PLAN.published, "01JGFJJZ0000000000000000ZZ"]) {
      const response = await page.goto(`${app.base}/sip/${id}`);
      assert.equal(response.status(), 404);
      await page.getByRole("heading", { level: 1, name: "Sidan finns inte" }).waitFor();
    }
    // Its own plan opens.
    const own = await page.goto(`${app.base}/sip/${PLAN.followedUp}`);
    assert.equal(own.status(), 200);
    await page.getByRole("heading", { level: 1, name: /SIP för Karin Öberg/ }).waitFor();
    await page.getByRole("heading", { level: 2, name: "Historik" }).waitFor();
    assert.match(await page.locator(".history").innerText(), /Huvudmål dokumenterat|Delmål dokumenterat/);
    await page.screenshot({ path: join(screenshots, "sip.png"), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);
    assert.deepEqual(context.cspViolations, []);
    // An unknown page is the HTML 404 too; the API keeps its problem documents.
    const unknown = await page.goto(`${app.base}/finns-inte`);
    assert.equal(unknown.status(), 404);
    const api = await page.request.get(`${app.base}/api/v1/finns-inte`);
    assert.equal(api.status(), 404);
    assert.match(api.headers()["content-type"], /application\/problem\+json/);
  }));

test("Min plan reads well on a 360 px phone and passes axe", { timeout: 180_000 }, () =>
  withApp("min-plan", async (app) => {
    const context = await app.context({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    await signIn(app, page, DEMO.citizen);
    assert.equal(new URL(page.url()).pathname, "/min-plan");
    await page.getByRole("heading", { level: 1, name: "Din plan" }).waitFor();
    // The coordinator's contact first, then the goal, the sub-goals, the follow-up.
    const headings = await page.locator("main h2").allInnerTexts();
    assert.deepEqual(headings.slice(0, 3), ["Din kontakt", "Ditt mål", "Delmål och vem som gör vad"]);
    assert.ok(headings.includes("Nästa uppföljning"));
    await page.getByText("Psykiatriska mottagningen Luleå").first().waitFor();
    // On a phone every number dials: the contact's and those of the units in the plan.
    const unitsWithPhone = await page.locator("#rubrik-enheter + ul li", { hasText: "telefon" }).count();
    assert.ok(unitsWithPhone > 0, "the demo's units have numbers");
    assert.equal(await page.locator("#rubrik-enheter + ul a[href^='tel:']").count(), unitsWithPhone,
      "each unit's number in \u201dDe som är med i planen\u201d is a link");
    // Published content only, nothing wider than the screen.
    assert.doesNotMatch(await page.locator("main").innerText(), /Utkast/);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
    const size = await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize));
    assert.ok(size >= 18, `body text is ${size} px`);
    await page.screenshot({ path: join(screenshots, "min-plan-phone.png"), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);
    assert.deepEqual(context.cspViolations, []);
    // Staff pages are not for citizens.
    const staffPage = await page.goto(`${app.base}/sip/${PLAN.published}`);
    assert.equal(staffPage.status(), 403);
  }));
