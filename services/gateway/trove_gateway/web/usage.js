// The Usage view: this month's storage, uploads, processing minutes and spending against the tier's limits and the
// budget (GET /api/v1/billing/usage), and the budget alerts of the period (GET /api/v1/billing/alerts).

import { fill, formatBytes, formatDate, h } from "./dom.js";

function money(amount, currency) {
  return `${amount.toLocaleString(undefined, { maximumFractionDigits: amount < 1 ? 4 : 2 })} ${currency}`;
}

function month(period) {
  return new Date(`${period}T00:00:00`).toLocaleDateString(undefined, { month: "long", year: "numeric" });
}

/** One line of the form "label: used of allowed" with a bar that turns to a warning colour at 80 %. */
function meter(label, used, allowed, show) {
  const share = allowed > 0 ? Math.min(1, used / allowed) : 0;
  const level = share >= 1 ? "full" : share >= 0.8 ? "high" : "ok";
  return h(
    "li",
    { class: `meter meter-${level}` },
    h("span", { class: "meter-label" }, label),
    h("progress", { max: "1", value: String(share), "aria-label": `${label}: ${Math.round(share * 100)} %` }),
    h("span", { class: "meter-value" }, `${show(used)} of ${show(allowed)}`),
  );
}

export class Usage {
  constructor({ api, body, status }) {
    Object.assign(this, { api, body, status });
  }

  async show() {
    this.status.textContent = "Loading…";
    try {
      const [usage, alerts] = await Promise.all([
        this.api.json("/api/v1/billing/usage"),
        this.api.json("/api/v1/billing/alerts"),
      ]);
      this.render(usage, alerts.items);
      this.status.textContent = "";
    } catch (error) {
      this.status.textContent = `Could not load your usage: ${error.message}`;
    }
  }

  render(usage, alerts) {
    const { limits, currency } = usage;
    const minutes = (n) => `${n.toLocaleString(undefined, { maximumFractionDigits: 1 })} min`;
    const count = (n) => n.toLocaleString();
    const services = Object.entries(usage.cost_by_service);
    fill(
      this.body,
      h("p", { class: "muted" }, `${month(usage.period)} · ${usage.tier} tier`),
      usage.budget_exhausted
        ? h("p", { class: "notice", role: "status" }, "This month's budget is used up: new files wait until it is raised or the month ends.")
        : "",
      h(
        "ul",
        { class: "meters", "aria-label": "This month's usage" },
        meter("Budget", usage.spent, usage.budget, (n) => money(n, currency)),
        meter("Storage", usage.storage_bytes, limits.storage_bytes, formatBytes),
        meter("Uploads", usage.uploads, limits.uploads_per_month, count),
        meter("Processing", usage.processing_minutes, limits.processing_minutes_per_month, minutes),
      ),
      h("h2", {}, "Cost by service"),
      services.length
        ? h("ul", { class: "plain" }, ...services.map(([service, amount]) => h("li", {}, `${service}: ${money(amount, currency)}`)))
        : h("p", { class: "muted" }, "Nothing analysed this month yet."),
      h("h2", {}, "Alerts"),
      alerts.length
        ? h(
            "ul",
            { class: "plain" },
            ...alerts.map((a) =>
              h("li", {}, `${formatDate(a.created_at)}: ${a.threshold_pct} % of the ${a.period} budget (${money(a.spent, a.currency)} of ${money(a.budget, a.currency)})`),
            ),
          )
        : h("p", { class: "muted" }, "No alerts this month."),
    );
  }
}
