"""PPL versus adapter rank r of ReSpinQuant-r, with the SpinQuant and
LayerWise-exact levels as horizontal lines, one panel per setting.
Usage: python3 plot_rank.py table.csv rank.png (needs python3-matplotlib)."""
import csv
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("plot_rank.py needs matplotlib: apt-get install -y python3-matplotlib")

rows = list(csv.DictReader(open(sys.argv[1])))
ranks = [r for r in rows if r["rank"].isdigit()]
levels = {r["rank"]: r for r in rows if not r["rank"].isdigit()}
settings = ["W4A4KV4", "W3A3KV3", "W4A8KV8"]
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, setting in zip(axes, settings):
    x = [int(r["rank"]) for r in ranks]
    y = [float(r[setting]) for r in ranks]
    ax.plot(x, y, "o-", label="ReSpinQuant-r")
    ax.axhline(float(levels["spinquant"][setting]), color="tab:red", ls="--", label="SpinQuant")
    ax.axhline(float(levels["layerwise"][setting]), color="tab:green", ls=":", label="LayerWise-exact")
    ax.set_xscale("symlog", base=2, linthresh=2)
    ax.set_xticks(x)
    ax.set_xticklabels([str(v) for v in x])
    ax.set_xlabel("adapter rank r (D = 64)")
    ax.set_ylabel("perplexity (eval text)")
    ax.set_title(f"stories260K {setting}, GPTQ weights")
    ax.legend()
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
