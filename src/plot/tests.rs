//! Tests of the figure module: each chart kind the designs draw, log axes, error bars,
//! bands, legends, bad and missing data, and byte-identical output.

use super::prepare::{Marker, Xy, cut_to_y_range};
use super::*;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Width and height from the IHDR chunk, which the PNG format requires first.
fn png_dimensions(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24, "PNG too short: {} bytes", bytes.len());
    assert_eq!(bytes[..8], PNG_SIGNATURE, "missing PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is not IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

fn panel(title: &str, x_label: &str, y_label: &str, x_scale: Scale, series: Vec<Series>) -> Panel {
    Panel {
        title: title.to_owned(),
        x_label: x_label.to_owned(),
        y_label: y_label.to_owned(),
        x_scale,
        series,
        y_range: None,
    }
}

fn series(name: &str, points: Vec<Point>) -> Series {
    Series {
        name: name.to_owned(),
        points,
    }
}

/// Chart kind 1: market share by tier, per investor, ±1 SE, two panels.
fn market_share_figure() -> Figure {
    let investor = |i: usize, slope: f64| {
        series(
            &format!("investor {i}"),
            (0..=4)
                .map(|tier| {
                    let t = f64::from(tier);
                    let share = (0.5 + slope * (t - 2.0)).clamp(0.0, 1.0);
                    Point::with_error(t, share, 0.02 + 0.01 * t)
                })
                .collect(),
        )
    };
    let mut fixed = panel(
        "fixed tiers",
        "tier",
        "market share",
        Scale::Linear,
        vec![investor(1, 0.1), investor(2, -0.1), investor(3, 0.02)],
    );
    fixed.y_range = Some((0.0, 1.0));
    let mut tiering = panel(
        "revenue-rate tiering",
        "tier",
        "market share",
        Scale::Linear,
        vec![investor(1, 0.05), investor(2, -0.05), investor(3, 0.0)],
    );
    tiering.y_range = Some((0.0, 1.0));
    Figure {
        title: "Market share by tier".to_owned(),
        panels: vec![fixed, tiering],
    }
}

/// Chart kind 2: a metric by tick with median line and 25th–75th percentile band.
fn percentile_figure() -> Figure {
    let curve = |name: &str, level: f64, wobble: f64| {
        series(
            name,
            (0..=96)
                .map(|tick| {
                    let t = f64::from(tick);
                    let median = level * (1.0 - (-t / 20.0).exp()) + wobble * (t / 7.0).sin();
                    let spread = 0.03 + 0.08 * (-t / 30.0).exp();
                    Point::with_band(t, median, median - spread, median + spread)
                })
                .collect(),
        )
    };
    Figure {
        title: "Dealer market share over time".to_owned(),
        panels: vec![panel(
            "",
            "tick",
            "market share",
            Scale::Linear,
            vec![
                curve("identical curves (≈50% share)", 0.5, 0.01),
                curve("strictly cheaper (100% share)", 1.0, 0.005),
            ],
        )],
    }
}

/// Chart kind 3: cost by risk aversion γ on a log axis, two panels, two σ series.
fn cost_figure() -> Figure {
    let gammas = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0];
    let cost = |name: &str, sigma: f64, venue: f64| {
        series(
            name,
            gammas
                .iter()
                .map(|&g: &f64| {
                    let c = venue * sigma * (1.0 + g.ln_1p());
                    Point::with_error(g, c, 0.05 * c)
                })
                .collect(),
        )
    };
    let side = |title: &str, venue: f64| {
        panel(
            title,
            "risk aversion γ",
            "hedging cost",
            Scale::Log,
            vec![cost("σ = 10%", 0.1, venue), cost("σ = 30%", 0.3, venue)],
        )
    };
    Figure {
        title: "Hedging cost against risk aversion".to_owned(),
        panels: vec![
            side("hedging with market makers", 1.0),
            side("hedging on the exchange", 1.6),
        ],
    }
}

/// Untitled, with a panel without series, one with an empty series on a log axis,
/// one whose only point is skipped, and one with a fixed range that clips.
fn edge_case_figure() -> Figure {
    let mut clipped = market_share_figure().panels.remove(0);
    clipped.title = "clipped to 0.45..0.55".to_owned();
    clipped.y_range = Some((0.45, 0.55));
    Figure {
        title: String::new(),
        panels: vec![
            panel("no series", "x", "y", Scale::Linear, Vec::new()),
            panel(
                "empty series",
                "γ",
                "y",
                Scale::Log,
                vec![series("none", Vec::new())],
            ),
            panel(
                "only gaps",
                "x",
                "y",
                Scale::Linear,
                vec![series("nan", vec![Point::new(f64::NAN, f64::NAN)])],
            ),
            clipped,
        ],
    }
}

/// Whether the SVG has a text element reading exactly `text`.
fn has_text(svg: &str, text: &str) -> bool {
    svg.contains(&format!(">\n{text}\n<"))
}

/// Renders both formats, checks the PNG's size and that the SVG has every text in
/// `texts` and no NaN, and returns the SVG.
fn assert_renders(figure: &Figure, texts: &[&str]) -> String {
    let svg = figure.to_svg().expect("SVG renders");
    assert!(
        svg.starts_with("<svg"),
        "not SVG: {}",
        &svg[..svg.len().min(80)]
    );
    for text in texts {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
    if let Some(at) = svg.find("NaN") {
        panic!(
            "SVG contains NaN: {}",
            &svg[at.saturating_sub(200)..(at + 50).min(svg.len())]
        );
    }
    let png = figure.to_png().expect("PNG renders");
    assert_eq!(
        png_dimensions(&png),
        (PANEL_WIDTH * figure.panels.len() as u32, FIGURE_HEIGHT)
    );
    svg
}

#[test]
fn market_share_chart_renders_with_error_bars_in_two_panels() {
    let figure = market_share_figure();
    let svg = assert_renders(
        &figure,
        &[
            "Market share by tier",
            "fixed tiers",
            "revenue-rate tiering",
            "market share",
            "tier",
        ],
    );
    for tick in ["0", "1", "2", "3", "4", "0.0", "0.2", "0.8", "1.0"] {
        assert!(has_text(&svg, tick), "no tick label {tick:?}");
    }
    assert!(!has_text(&svg, "0.5"), "x ticks are whole tiers");
    let data = figure.prepare().expect("valid figure");
    assert!(
        data.iter()
            .all(|p| p.series.iter().all(|s| s.errors.len() == 5))
    );
    let e = data[0].series[0].errors[4];
    assert!((e.lo - (e.y - 0.06)).abs() < 1e-12 && (e.hi - (e.y + 0.06)).abs() < 1e-12);
}

#[test]
fn legend_lists_every_named_series_once_per_panel() {
    let mut figure = market_share_figure();
    figure.panels[1].series[2].name.clear();
    let svg = assert_renders(&figure, &[]);
    let count = |name: &str| svg.matches(&format!(">\n{name}\n<")).count();
    assert_eq!(count("investor 1"), 2);
    assert_eq!(count("investor 2"), 2);
    // The unnamed series stays out of the second panel's legend.
    assert_eq!(count("investor 3"), 1);

    let mut unnamed = percentile_figure();
    for s in &mut unnamed.panels[0].series {
        s.name.clear();
    }
    let bare = unnamed.to_svg().expect("SVG renders");
    let named = percentile_figure().to_svg().expect("SVG renders");
    assert!(bare.len() < named.len(), "no legend box without names");
}

#[test]
fn percentile_chart_renders_bands_under_median_lines() {
    let figure = percentile_figure();
    let svg = assert_renders(
        &figure,
        &[
            "Dealer market share over time",
            "identical curves (≈50% share)",
            "strictly cheaper (100% share)",
            "tick",
            "<polygon",
        ],
    );
    for tick in ["0", "20", "40", "60", "80", "100"] {
        assert!(has_text(&svg, tick), "no tick label {tick:?}");
    }
    let data = figure.prepare().expect("valid figure");
    let s = &data[0].series;
    // One band outline of 2 × 97 vertices per series, before the line.
    assert!(
        s.iter()
            .all(|s| s.bands.len() == 1 && s.bands[0].len() == 194)
    );
    // 97 points per series: too dense for markers.
    assert!(s.iter().all(|s| s.marker.is_none()));
    let first_polygon = svg.find("<polygon").expect("a band");
    let first_line = svg
        .find(r##"<polyline fill="none" opacity="1" stroke="#1F77B4" stroke-width="2""##)
        .expect("the first series' line");
    assert!(
        first_polygon < first_line,
        "bands are drawn under the lines"
    );
}

#[test]
fn cost_chart_renders_on_log_axes() {
    let figure = cost_figure();
    let svg = assert_renders(
        &figure,
        &[
            "Hedging cost against risk aversion",
            "hedging with market makers",
            "hedging on the exchange",
            "σ = 10%",
            "σ = 30%",
            "risk aversion γ",
        ],
    );
    for tick in ["0.01", "0.1", "1", "10", "100"] {
        assert!(has_text(&svg, tick), "no decade tick {tick:?}");
    }
    // Four decades leave no room for in-between ticks.
    assert!(!has_text(&svg, "0.03") && !has_text(&svg, "30"));
    let data = figure.prepare().expect("valid figure");
    assert!(data[0].x.0 < 0.01 && data[0].x.1 > 100.0);
    assert!(data[0].series.iter().all(|s| s.marker.is_some()));
    assert_eq!(data[0].series[1].marker, Some(Marker::Square));
}

#[test]
fn narrow_log_axes_still_get_ticks() {
    let narrow = |xs: &[f64]| Figure {
        title: String::new(),
        panels: vec![panel(
            "",
            "x",
            "y",
            Scale::Log,
            vec![series(
                "s",
                xs.iter().map(|&x| Point::with_error(x, 0.5, 0.1)).collect(),
            )],
        )],
    };
    // No power of ten inside 2..6: the axis reaches down to 1.
    let figure = narrow(&[2.0, 3.0, 6.0]);
    let svg = assert_renders(&figure, &[]);
    for tick in ["1", "2", "3", "4", "5", "6"] {
        assert!(has_text(&svg, tick), "no tick {tick:?}");
    }
    let data = figure.prepare().expect("valid figure");
    assert!((data[0].x.0 - 1.0).abs() < 1e-6, "{:?}", data[0].x);
    // A single value gets half a decade either side.
    let single = narrow(&[1.0]);
    let data = single.prepare().expect("valid figure");
    let (lo, hi) = data[0].x;
    assert!((lo.log10() + 0.5).abs() < 1e-9 && (hi.log10() - 0.5).abs() < 1e-9);
    // Two powers of ten under two decades apart: each labelled once, no multiples.
    let svg = assert_renders(&narrow(&[1.0, 10.0]), &[]);
    assert_eq!(svg.matches(">\n10\n<").count(), 1, "10 labelled once");
    assert!(has_text(&svg, "1") && !has_text(&svg, "5"));
    // Far decades are written with exponents.
    let svg = assert_renders(&narrow(&[1e-4, 1e4]), &[]);
    assert!(
        has_text(&svg, "1e-4") && has_text(&svg, "1e4"),
        "exponent ticks"
    );
}

#[test]
fn same_figure_renders_identical_bytes() {
    for figure in [
        market_share_figure(),
        percentile_figure(),
        cost_figure(),
        edge_case_figure(),
    ] {
        let svg = figure.to_svg().expect("SVG renders");
        assert_eq!(svg, figure.clone().to_svg().expect("SVG renders"));
        let first = figure.to_png().expect("PNG renders");
        let second = figure.clone().to_png().expect("PNG renders");
        assert!(first == second, "PNG bytes differ for {:?}", figure.title);
    }
}

#[test]
fn log_scale_rejects_non_positive_x() {
    for bad in [0.0, -1.0] {
        let mut figure = cost_figure();
        figure.panels[1].series[0].points[2].x = bad;
        let err = figure.to_svg().expect_err("x <= 0 on a log axis");
        match &err {
            FigureError::NonPositiveLogX {
                panel,
                series,
                point,
                ..
            } => assert_eq!((*panel, series.as_str(), *point), (1, "σ = 10%", 2)),
            other => panic!("unexpected error {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains("hedging on the exchange"), "{message}");
        assert!(figure.to_png().is_err());
    }
}

#[test]
fn empty_figures_panels_and_series_do_not_panic() {
    let empty = Figure {
        title: "nothing".to_owned(),
        panels: Vec::new(),
    };
    assert!(matches!(empty.to_svg(), Err(FigureError::NoPanels { .. })));
    assert!(matches!(empty.to_png(), Err(FigureError::NoPanels { .. })));
    let crowded = Figure {
        title: "crowded".to_owned(),
        panels: vec![market_share_figure().panels.remove(0); MAX_PANELS + 1],
    };
    assert!(matches!(
        crowded.pixel_size(),
        Err(FigureError::TooManyPanels { panels: 33, .. })
    ));

    let figure = edge_case_figure();
    assert_renders(&figure, &["no series", "empty series", "none"]);
    let data = figure.prepare().expect("valid figure");
    assert_eq!((data[0].x, data[0].y), ((0.0, 1.0), (0.0, 1.0)));
    assert!(data[1].x.0 < 1.0 && data[1].x.1 > 10.0, "{:?}", data[1].x);
    assert!(data[2].series[0].lines.is_empty());
}

#[test]
fn non_finite_points_are_skipped() {
    let points = vec![
        Point::with_error(0.0, 1.0, 0.1),
        Point::with_error(1.0, f64::NAN, 0.1),
        Point::new(2.0, 2.0),
        Point::with_error(3.0, 3.0, f64::NAN),
        Point::new(f64::INFINITY, 100.0),
        Point::with_band(4.0, 4.0, f64::NAN, 5.0),
        Point::new(5.0, 5.0),
    ];
    let figure = Figure {
        title: "gaps".to_owned(),
        panels: vec![panel(
            "p",
            "x",
            "y",
            Scale::Linear,
            vec![series("s", points)],
        )],
    };
    assert_renders(&figure, &["gaps", "s"]);
    let data = figure.prepare().expect("valid figure");
    let s = &data[0].series[0];
    assert_eq!(
        s.lines,
        vec![
            vec![(0.0, 1.0)],
            vec![(2.0, 2.0), (3.0, 3.0)],
            vec![(4.0, 4.0), (5.0, 5.0)]
        ]
    );
    assert_eq!(s.markers.len(), 5);
    assert_eq!(s.errors.len(), 1);
    assert!(s.bands.is_empty());
    // The infinite point's y = 100 must not stretch the axis.
    assert!(data[0].y.1 < 6.0, "y axis reaches {}", data[0].y.1);
}

#[test]
fn fixed_y_range_is_validated_and_cuts_data() {
    let mut figure = market_share_figure();
    figure.panels[0].y_range = Some((1.0, 1.0));
    assert!(matches!(
        figure.to_png(),
        Err(FigureError::InvalidYRange { panel: 0, .. })
    ));
    figure.panels[0].y_range = Some((0.0, f64::NAN));
    assert!(figure.to_svg().is_err());

    figure.panels[0].y_range = Some((0.45, 0.55));
    let data = figure.prepare().expect("valid range");
    assert_eq!(data[0].y, (0.45, 0.55));
    let inside = |&(_, y): &Xy| (0.45 - 1e-12..=0.55 + 1e-12).contains(&y);
    for s in &data[0].series {
        assert!(s.lines.iter().flatten().all(inside));
        assert!(s.markers.iter().all(inside));
        assert!(s.errors.iter().all(|e| (0.45..=0.55).contains(&e.y)));
    }
    // Investor 1 climbs through the range: only its middle point is kept.
    assert_eq!(data[0].series[0].markers, vec![(2.0, 0.5)]);
    assert_renders(&figure, &["fixed tiers"]);
}

#[test]
fn lines_are_cut_where_they_leave_the_y_range() {
    let pieces = cut_to_y_range(
        &[(0.0, 0.5), (2.0, 2.5), (4.0, 0.5), (6.0, 0.5)],
        (0.0, 1.0),
        false,
    );
    assert_eq!(
        pieces,
        vec![
            vec![(0.0, 0.5), (0.5, 1.0)],
            vec![(3.5, 1.0), (4.0, 0.5), (6.0, 0.5)]
        ]
    );
    // Through the whole range and out again.
    let through = cut_to_y_range(&[(0.0, -1.0), (4.0, 3.0), (5.0, 5.0)], (0.0, 1.0), false);
    assert_eq!(through, vec![vec![(1.0, 0.0), (2.0, 1.0)]]);
    assert!(cut_to_y_range(&[(0.0, 2.0)], (0.0, 1.0), false).is_empty());
    // On a log axis the crossing lies halfway in decades: √(1 × 100) = 10.
    let log = cut_to_y_range(&[(1.0, 0.0), (100.0, 2.0)], (0.0, 1.0), true);
    assert_eq!(log.len(), 1);
    assert!((log[0][1].0 - 10.0).abs() < 1e-9, "{log:?}");
}

/// Writes one PNG and SVG of each chart kind into `$FIGURE_SAMPLES_DIR`, for eyeballing;
/// does nothing when the variable is unset.
#[test]
fn write_samples_when_asked() {
    let Some(dir) = std::env::var_os("FIGURE_SAMPLES_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("create sample dir");
    for (name, figure) in [
        ("market_share", market_share_figure()),
        ("percentiles", percentile_figure()),
        ("cost_vs_gamma", cost_figure()),
        ("edge_cases", edge_case_figure()),
    ] {
        let png = figure.to_png().expect("PNG renders");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write PNG");
        let svg = figure.to_svg().expect("SVG renders");
        std::fs::write(dir.join(format!("{name}.svg")), svg).expect("write SVG");
    }
}
