// Drives site-example in headless Chromium the way a user does: sign in with the form, open
// the status view and wait for every data store, add an item and wait for it in the list.
//
//   node e2e/sign-in.mjs SITE_URL EMAIL PASSWORD ITEM_NAME [SCREENSHOT.png]
//
// Prints one JSON line on stdout: {"signedIn", "stores": {name: state}, "items": [...]}; exits
// 1 with the page's text when a step does not happen within 20 s. CHROMIUM names the browser
// (default /usr/bin/chromium, Debian's).
import { chromium } from "playwright-core";

const [site, email, password, itemName, screenshot] = process.argv.slice(2);
if (!itemName) {
  console.error("usage: node e2e/sign-in.mjs SITE_URL EMAIL PASSWORD ITEM_NAME [SCREENSHOT.png]");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-proxy-server"],
});
const page = await browser.newPage();
const problems = [];
page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
page.on("pageerror", (e) => problems.push(e.message));
page.on("requestfailed", (r) => problems.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
page.on("response", (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.request().method()} ${r.url()}`));
const step = async (what, run) => {
  try {
    return await run();
  } catch (e) {
    const text = await page.locator("main").innerText().catch(() => "");
    console.error(`${what}: ${e.message.split("\n")[0]}\npage: ${text}\nconsole: ${problems.join(" | ")}`);
    if (screenshot) await page.screenshot({ path: screenshot }).catch(() => {});
    await browser.close();
    process.exit(1);
  }
};
const timeout = 20000;

await step("open the account view", () => page.goto(`${site}/account`, { timeout }));
await step("sign in", async () => {
  await page.fill('#sign-in input[name="email"]', email);
  await page.fill('#sign-in input[name="password"]', password);
  await page.click('#sign-in button[type="submit"]');
  await page.locator("#who", { hasText: "Signed in as" }).waitFor({ timeout });
});
// Client-side navigation, as a user clicks the menu (the token lives in this tab).
await step("open the status view", () => page.click('nav a[href="/status"]'));
const stores = await step("see every store", async () => {
  await page.locator("#api-status[data-state]").waitFor({ timeout });
  await page.locator("#stores li").first().waitFor({ timeout });
  const found = {};
  for (const li of await page.locator("#stores li").all()) {
    found[await li.getAttribute("data-store")] = (await li.innerText()).split(": ").slice(1).join(": ");
  }
  return found;
});
await step("open the items view", () => page.click('nav a[href="/items"]'));
const items = await step("add an item", async () => {
  await page.locator("#item-list[data-count]").waitFor({ state: "attached", timeout });
  await page.fill('#add-item input[name="name"]', itemName);
  await page.click('#add-item button[type="submit"]');
  await page.locator("#item-list li", { hasText: itemName }).waitFor({ timeout });
  return page.locator("#item-list li").allInnerTexts();
});
if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
await browser.close();
console.log(JSON.stringify({ signedIn: true, stores, items, problems }));
