//! Statistics, the markdown report (between the markers in docs/performance.md) and the SVG chart.

pub const BEGIN: &str = "<!-- peers:begin -->";
pub const END: &str = "<!-- peers:end -->";
const CHART: &str = "peers-attach.svg";

pub use crate::measure::{loadavg, pct, rss_kb};

pub fn median(v: &[f64]) -> f64 {
    pct(v, 0.5)
}

pub fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v < 1.0 {
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

    fn chart(&self) -> String {
        let colors = ["#d62728", "#1f77b4", "#17becf", "#ff7f0e", "#7f7f7f"];
        let (w, h, l, r, t, b) = (760.0, 420.0, 60.0, 250.0, 30.0, 50.0);
        let n = self.scaling.iter().map(|s| s.1.len()).max().unwrap_or(1);
        let xmax = (n * self.chunk) as f64;
        let ymax = self
            .scaling
            .iter()
            .flat_map(|s| s.1.iter().copied())
            .fold(1.0_f64, f64::max)
            * 1.1;
        let x = |i: usize| l + (i as f64 + 0.5) * self.chunk as f64 / xmax * (w - l - r);
        let y = |v: f64| t + (1.0 - v / ymax) * (h - t - b);
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{l}\" y=\"18\" font-size=\"14\">Attach latency (p50 per chunk of {}) vs containers on the bridge</text>\n",
            self.chunk
        );
        s += &format!(
            "<line x1=\"{l}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n<line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{}\" stroke=\"black\"/>\n",
            h - b,
            w - r,
            h - b,
            h - b
        );
        for k in 0..=5 {
            let v = ymax * k as f64 / 5.0;
            s += &format!(
                "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v:.0}</text><line x1=\"{l}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" stroke=\"#eee\"/>\n",
                l - 5.0,
                y(v) + 4.0,
                y(v),
                w - r,
                y(v)
            );
            let xv = xmax * k as f64 / 5.0;
            let xp = l + xv / xmax * (w - l - r);
            s += &format!(
                "<text x=\"{xp:.1}\" y=\"{}\" text-anchor=\"middle\">{xv:.0}</text>\n",
                h - b + 16.0
            );
        }
        s += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">containers already on the bridge</text>\n\
             <text x=\"15\" y=\"{}\" transform=\"rotate(-90 15 {})\" text-anchor=\"middle\">ms</text>\n",
            (l + w - r) / 2.0,
            h - 12.0,
            (t + h - b) / 2.0,
            (t + h - b) / 2.0
        );
        for (i, (label, pts, _, _)) in self.scaling.iter().enumerate() {
            let c = colors[i % colors.len()];
            let path: Vec<String> = pts
                .iter()
                .enumerate()
                .map(|(j, v)| format!("{:.1},{:.1}", x(j), y(*v)))
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
