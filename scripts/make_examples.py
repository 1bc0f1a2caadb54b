"""Regenerate the bundled example data sets in src/losskit/data/ (deterministic).

    python scripts/make_examples.py
"""

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "src" / "losskit" / "data"


def delivery_times(rng: np.random.Generator, n: int = 800) -> str:
    """Delivery time in minutes; 6% of orders hit an incident that adds 40-150 minutes."""
    distance = rng.uniform(0.5, 12.0, n)
    items = rng.integers(1, 9, n)
    rush_hour = rng.integers(0, 2, n)
    rain = rng.integers(0, 2, n)
    minutes = 8 + 3.2 * distance + 1.1 * items + 6 * rush_hour + 4 * rain + rng.normal(0, 3, n)
    incident = rng.random(n) < 0.06
    minutes[incident] += rng.uniform(40, 150, incident.sum())
    rows = ["distance_km,items,rush_hour,rain,minutes"]
    rows += [f"{d:.2f},{i},{r},{w},{m:.1f}"
             for d, i, r, w, m in zip(distance, items, rush_hour, rain, minutes)]
    return "\n".join(rows) + "\n"


def churn(rng: np.random.Generator, n: int = 3000) -> str:
    """Customer churn, about 1 churner in 45: an imbalanced binary problem judged by F1."""
    tenure = rng.uniform(0, 60, n)
    tickets = rng.poisson(1.0, n)
    monthly = rng.uniform(10, 120, n)
    discount = rng.integers(0, 2, n)
    z = -4.6 - 0.05 * tenure + 0.7 * tickets + 0.02 * monthly - 0.8 * discount
    churned = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    rows = ["tenure_months,support_tickets,monthly_spend,discount,churned"]
    rows += [f"{t:.1f},{k},{m:.2f},{d},{c}"
             for t, k, m, d, c in zip(tenure, tickets, monthly, discount, churned)]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "delivery_times.csv").write_text(delivery_times(np.random.default_rng(7)))
    (OUT / "churn.csv").write_text(churn(np.random.default_rng(11)))
    print("wrote", sorted(p.name for p in OUT.glob("*.csv")))
