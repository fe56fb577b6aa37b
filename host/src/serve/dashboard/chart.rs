//! Charts drawn on the server as SVG: a series of points over time, as steps or a line, with the
//! points that came from a failing verdict marked. No script draws them, so they show without
//! JavaScript and under the dashboard's strict content policy (no inline styles: colours are
//! classes of `app.css`). Every label is escaped here; a label may be a plugin's text.

use std::fmt::Write as _;

/// The drawing's size in SVG units (it scales to its container).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
/// Room for the axis labels.
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// The most points one chart draws: the newest ones.
pub const MAX_POINTS: usize = 500;

/// One point: when (ms since the epoch), the value, and whether it came from a failing verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub at: i64,
    pub value: f64,
    pub failed: bool,
}

/// How points are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A value that holds until the next one (a traffic weight, units moved).
    Steps,
    /// Samples (measurements).
    Line,
}

/// A chart ready for a template: its title and its SVG.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// What it shows, e.g. `shard-checks · orders-kept.passed (databases)`.
    pub title: String,
    /// A key for the page (tests find a chart by it): the series name.
    pub series: String,
    pub svg: String,
    /// The last value, as text.
    pub last: String,
}

/// `s` with the five characters that matter in SVG/HTML text escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number as a label: integers without a fraction, others with up to 3 significant decimals.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Draws `points` (any order; sorted here, the newest [`MAX_POINTS`] kept). `end` is where the time
/// axis ends (now, or when the rollout ended), so a step holds until then. `label` names the value
/// for screen readers.
pub fn draw(points: &[Point], shape: Shape, end: i64, label: &str) -> String {
    let mut points: Vec<Point> = points.iter().copied().filter(|p| p.value.is_finite()).collect();
    points.sort_by_key(|p| p.at);
    if points.len() > MAX_POINTS {
        points.drain(..points.len() - MAX_POINTS);
    }
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" class="chart-svg">"#,
        escape(label)
    );
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        svg.push_str(r#"<text x="50%" y="50%" class="axis" text-anchor="middle">no data yet</text></svg>"#);
        return svg;
    };
    let t0 = first.at;
    let t1 = end.max(last.at).max(t0 + 1);
    let lo = points.iter().map(|p| p.value).fold(f64::INFINITY, f64::min).min(0.0);
    let mut hi = points.iter().map(|p| p.value).fold(f64::NEG_INFINITY, f64::max);
    if hi <= lo {
        hi = lo + 1.0;
    }
    let x = |t: i64| LEFT + (t - t0) as f64 / (t1 - t0) as f64 * (WIDTH - LEFT - RIGHT);
    let y = |v: f64| TOP + (hi - v) / (hi - lo) * (HEIGHT - TOP - BOTTOM);
    // Axes and their labels: the value range, and the time span.
    let _ = write!(
        svg,
        r#"<line class="axis-line" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}"/><line class="axis-line" x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}"/>"#,
        b = HEIGHT - BOTTOM,
        r = WIDTH - RIGHT
    );
    let _ = write!(
        svg,
        r#"<text class="axis" x="{lx}" y="{ty}" text-anchor="end">{}</text><text class="axis" x="{lx}" y="{by}" text-anchor="end">{}</text>"#,
        number(hi),
        number(lo),
        lx = LEFT - 6.0,
        ty = TOP + 10.0,
        by = HEIGHT - BOTTOM,
    );
    let span = (t1 - t0) / 1000;
    let _ = write!(
        svg,
        r#"<text class="axis" x="{LEFT}" y="{ty}">0 s</text><text class="axis" x="{r}" y="{ty}" text-anchor="end">{span} s</text>"#,
        ty = HEIGHT - 8.0,
        r = WIDTH - RIGHT,
    );
    let mut path = String::new();
    for (i, p) in points.iter().enumerate() {
        let (px, py) = (x(p.at), y(p.value));
        match (i, shape) {
            (0, _) => {
                let _ = write!(path, "M{px:.1},{py:.1}");
            }
            (_, Shape::Steps) => {
                let _ = write!(path, " H{px:.1} V{py:.1}");
            }
            (_, Shape::Line) => {
                let _ = write!(path, " L{px:.1},{py:.1}");
            }
        }
    }
    if shape == Shape::Steps {
        let _ = write!(path, " H{:.1}", x(t1));
    }
    let _ = write!(svg, r#"<path class="series" d="{path}"/>"#);
    for p in &points {
        let class = if p.failed { "point failed" } else { "point" };
        let _ = write!(
            svg,
            r#"<circle class="{class}" cx="{:.1}" cy="{:.1}" r="3"><title>{}</title></circle>"#,
            x(p.at),
            y(p.value),
            number(p.value)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_failing_points_marked() {
        let pts = [Point { at: 0, value: 1.0, failed: false }, Point { at: 1000, value: 0.0, failed: true }];
        let svg = draw(&pts, Shape::Line, 2000, "<script>alert(1)</script>");
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        assert_eq!(svg.matches(r#"class="point failed""#).count(), 1);
        assert_eq!(svg.matches("<circle").count(), 2);
    }

    #[test]
    fn an_empty_series_says_so_and_a_long_one_keeps_its_newest_points() {
        assert!(draw(&[], Shape::Steps, 0, "x").contains("no data yet"));
        let many: Vec<Point> = (0..MAX_POINTS as i64 + 10)
            .map(|i| Point { at: i, value: f64::NAN.max(i as f64), failed: false })
            .collect();
        assert_eq!(draw(&many, Shape::Line, 0, "x").matches("<circle").count(), MAX_POINTS);
        let bad = [Point { at: 0, value: f64::INFINITY, failed: false }];
        assert!(draw(&bad, Shape::Line, 0, "x").contains("no data yet"));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(1.0 / 3.0), "0.333");
    }
}
