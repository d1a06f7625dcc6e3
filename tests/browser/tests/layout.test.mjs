// One unit's long words on other readers' pages: a video link (a Teams link is 200–300 characters
// without a space) written by the coordinating unit must wrap on the invited unit's start page,
// on the plan's page and in the person's letter, not widen them past a phone's screen (WCAG
// 1.4.10; a hostile-content review found the start page 842 px wide at 375 px).

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEMO, personnummer, screenshots, staffToken, swedishDay, withApp } from "../lib/samplan.mjs";

const LINK = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_" +
  "NjQ1ZDk2YzAtYTg3Ny00ZTIwLWFmNDQtNjY1ZjFiZjM0ZTU4".repeat(3) +
  "%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%7d";

/** How many px the page is wider than its window. */
const overflow = (page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

test("a long link one unit writes keeps every other reader's page within a phone's screen", { timeout: 180_000 }, () =>
  withApp("long-words", async (app) => {
    const hc = staffToken(app, DEMO.hcLulea);
    const ok = (answer, what) => {
      assert.ok(answer.status < 300, `${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body;
    };
    const person = ok(await app.post("/persons", hc, {
      personal_identity_number: personnummer("19711203", "238"), name: "Ingrid Långström",
    }), "register").id;
    const sip = ok(await app.post("/sips", hc, {
      person_id: person, identified_by: "staff", context: { kind: "outpatient" },
      reason: "Behöver samordnade insatser från vård och omsorg.",
    }), "start").id;
    ok(await app.post(`/sips/${sip}/record-consent`, hc, {
      given_by: { kind: "person" }, actors: [DEMO.hcLulea.unit, DEMO.htLulea.unit],
      topics: ["Boende och stöd i hemmet"], valid_until: swedishDay(300).iso,
    }), "consent");
    ok(await app.post(`/sips/${sip}/create-plan-basis`, hc, {}), "plan basis");
    const sent = ok(await app.post(`/sips/${sip}/send-invitation`, hc, {
      invitation_id: "k-lang", purpose: "meeting", scheduled_at: `${swedishDay(6).iso}T09:00:00Z`,
      form: "video", place: LINK, reason: "Planera stödet tillsammans.",
      recipients: [{ kind: "unit", unit_id: DEMO.htLulea.unit }, { kind: "person" }],
    }), "invitation");

    const phone = { viewport: { width: 375, height: 800 }, isMobile: true, hasTouch: true };
    const readers = [
      [DEMO.htLulea, `/?min_position=${sent.position}`, "long-words-start"],
      [DEMO.htLulea, `/sip/${sip}`, "long-words-sip"],
      [DEMO.hcLulea, `/sip/${sip}/kallelse/k-lang/brev/person`, "long-words-letter"],
    ];
    for (const [who, path, shot] of readers) {
      const context = await app.context(phone);
      await context.addCookies([{ name: "samplan_session", value: staffToken(app, who), url: app.base }]);
      const page = await context.newPage();
      const response = await page.goto(`${app.base}${path}`);
      assert.equal(response.status(), 200, path);
      // The link is on the page, whole (wrapped, not cut).
      assert.ok((await page.locator("main").innerText()).replace(/\s+/g, "").includes(LINK), `${path} shows the link`);
      await page.screenshot({ path: join(screenshots, `${shot}.png`), fullPage: true });
      assert.ok((await overflow(page)) <= 0, `${path} is ${await overflow(page)} px wider than a 375 px screen`);
      assert.deepEqual(context.cspViolations, []);
      await context.close();
    }
  }));
