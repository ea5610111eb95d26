//! Statistics, the markdown report (between the markers in docs/performance.md) and the SVG chart.

pub const BEGIN: &str = "<!-- peers:begin -->";
pub const END: &str = "<!-- peers:end -->";
const CHART: &str = "peers-attach.svg";

pub use crate::measure::{loadavg, pct, rss_kb};

/// The median of a few per-round figures: with an even count, the mean of the middle two (nearest
/// rank would report the larger of two rounds as their median).
pub fn median(v: &[f64]) -> f64 {
    assert!(!v.is_empty(), "no samples");
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let m = s.len() / 2;
    if s.len().is_multiple_of(2) {
        (s[m - 1] + s[m]) / 2.0
    } else {
        s[m]
    }
}

pub fn ms(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() < 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.2}")
    }
}

pub fn min_med_max(r: &[f64]) -> String {
    let mut s = r.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    format!("{:.2} / {:.2} / {:.2}", s[0], median(&s), s[s.len() - 1])
}

/// Ratios cnm/peer pairwise over rounds, as min / median / max.
pub fn ratio_row(cnm: &[f64], peer: &[f64]) -> String {
    let r: Vec<f64> = cnm.iter().zip(peer).map(|(a, b)| a / b).collect();
    min_med_max(&r)
}

pub fn now_utc() -> String {
    let o = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M"])
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    String::from_utf8_lossy(&o).trim().to_string()
}

pub struct Report {
    quick: bool,
    lines: Vec<String>,
    /// (system, chunk p50s, first-k p50, last-k p50)
    pub scaling: Vec<(&'static str, Vec<f64>, f64, f64)>,
    pub chunk: usize,
    /// The targets' verdicts, placed right after the run's first line.
    targets: Vec<String>,
}

impl Report {
    pub fn new(quick: bool) -> Self {
        Report {
            quick,
            lines: Vec::new(),
            scaling: Vec::new(),
            chunk: 1,
            targets: Vec::new(),
        }
    }

    pub fn line(&mut self, s: &str) {
        println!("{s}");
        self.lines.push(s.to_string());
    }

    pub fn section(&mut self, title: &str) {
        self.line("");
        self.line(&format!("### {title}"));
        self.line("");
    }

    pub fn targets(&mut self, t: Vec<String>) {
        for l in &t {
            println!("{l}");
        }
        self.targets = t;
    }

    /// Attach latency (p50 of each chunk) against the containers already on the bridge, one line per
    /// system. The y axis is logarithmic: the floors take a millisecond or two, the CNI chain hundreds.
    fn chart(&self) -> String {
        let colors = [
            "#d62728", "#1f77b4", "#17becf", "#ff7f0e", "#7f7f7f", "#2ca02c",
        ];
        let (w, h, l, r, t, b) = (860.0, 440.0, 60.0, 330.0, 34.0, 50.0);
        let n = self.scaling.iter().map(|s| s.1.len()).max().unwrap_or(1);
        let xmax = (n * self.chunk) as f64;
        let vals = || self.scaling.iter().flat_map(|s| s.1.iter().copied());
        // Decades that hold every point, as 1-2-5 ticks.
        let lo = 10f64.powf(vals().fold(f64::MAX, f64::min).max(0.01).log10().floor());
        let hi = 10f64.powf(vals().fold(0.0_f64, f64::max).max(lo * 10.0).log10().ceil());
        let (llo, lhi) = (lo.log10(), hi.log10());
        let x = |c: f64| l + c / xmax * (w - l - r);
        let y = |v: f64| t + (1.0 - (v.max(lo).log10() - llo) / (lhi - llo)) * (h - t - b);
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{l}\" y=\"20\" font-size=\"14\">Attach latency, p50 of each {} containers, against containers on the bridge (log scale)</text>\n",
            self.chunk
        );
        let mut tick = lo;
        while tick <= hi * 1.0001 {
            for m in [1.0, 2.0, 5.0] {
                let v = tick * m;
                if v > hi * 1.0001 {
                    break;
                }
                let label = if v >= 1.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v}")
                };
                s += &format!(
                    "<line x1=\"{l}\" y1=\"{yv:.1}\" x2=\"{x2}\" y2=\"{yv:.1}\" stroke=\"{}\"/><text x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}</text>\n",
                    if m == 1.0 { "#ccc" } else { "#eee" },
                    yv = y(v),
                    x2 = w - r,
                    lx = l - 5.0,
                    ty = y(v) + 4.0
                );
            }
            tick *= 10.0;
        }
        for k in 0..=5 {
            let xv = xmax * k as f64 / 5.0;
            s += &format!(
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{xv:.0}</text>\n",
                x(xv),
                h - b + 16.0
            );
        }
        s += &format!(
            "<line x1=\"{l}\" y1=\"{hb}\" x2=\"{wr}\" y2=\"{hb}\" stroke=\"black\"/>\n\
             <line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{hb}\" stroke=\"black\"/>\n\
             <text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\">containers already on the bridge</text>\n\
             <text x=\"15\" y=\"{cy}\" transform=\"rotate(-90 15 {cy})\" text-anchor=\"middle\">attach ms</text>\n",
            h - 12.0,
            hb = h - b,
            wr = w - r,
            cx = (l + w - r) / 2.0,
            cy = (t + h - b) / 2.0
        );
        for (i, (label, pts, _, _)) in self.scaling.iter().enumerate() {
            let c = colors[i % colors.len()];
            // Each chunk's p50 sits at the middle of the chunk.
            let path: Vec<String> = pts
                .iter()
                .enumerate()
                .map(|(j, v)| {
                    format!(
                        "{:.1},{:.1}",
                        x((j as f64 + 0.5) * self.chunk as f64),
                        y(*v)
                    )
                })
                .collect();
            s += &format!(
                "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>\n",
                path.join(" ")
            );
            let ly = t + 20.0 + i as f64 * 20.0;
            s += &format!(
                "<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{c}\" stroke-width=\"3\"/><text x=\"{}\" y=\"{}\">{}</text>\n",
                w - r + 10.0,
                w - r + 30.0,
                w - r + 35.0,
                ly + 4.0,
                label.replace('&', "&amp;").replace('<', "&lt;")
            );
        }
        s += "</svg>\n";
        s
    }

    pub fn finish(&mut self) {
        // `CNM_PEERS_CHART=path` writes the chart there as well (to look at a quick run's).
        if let Ok(path) = std::env::var("CNM_PEERS_CHART") {
            std::fs::write(&path, self.chart()).expect("write chart");
        }
        if std::env::var("CNM_PEERS_WRITE").is_ok_and(|v| v == "1") {
            let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
            std::fs::write(docs.join(CHART), self.chart()).expect("write chart");
            let perf = docs.join("performance.md");
            let text = std::fs::read_to_string(&perf).expect("performance.md");
            let (Some(a), Some(z)) = (text.find(BEGIN), text.find(END)) else {
                panic!("markers {BEGIN} / {END} missing in docs/performance.md");
            };
            let mut body = String::new();
            body.push_str(BEGIN);
            body.push_str("\n<!-- written by `scripts/bench-peers.sh`; do not edit by hand -->\n");
            let mut lines = self.lines.iter();
            if let Some(first) = lines.next() {
                body.push_str(first);
                body.push_str("\n\n");
            }
            for l in &self.targets {
                body.push_str(l);
                body.push('\n');
            }
            for l in lines {
                body.push_str(l);
                body.push('\n');
            }
            body.push_str(&format!("\n![attach latency vs containers]({CHART})\n\n"));
            let new = format!("{}{body}{}", &text[..a], &text[z..]);
            std::fs::write(&perf, new).expect("write performance.md");
            eprintln!("wrote docs/performance.md and docs/{CHART}");
        } else if !self.quick {
            eprintln!("(CNM_PEERS_WRITE=1 writes the tables into docs/performance.md)");
        }
    }
}
