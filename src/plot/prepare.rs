//! A panel checked and reduced to what plotters draws: runs of finite points, error
//! bars and band outlines in data units, and the axis ranges that fit them.

use plotters::style::RGBColor;

use super::{FigureError, MAX_MARKERS, Panel, Scale, Series};

/// A position in data units.
pub(super) type Xy = (f64, f64);

/// Share of the data span left empty on each side of a fitted axis.
const AXIS_MARGIN: f64 = 0.05;

/// Matplotlib's "tab10" colours, well known from papers and distinct in print.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
];

/// plotters' point markers; they cycle alongside the colours so that series stay
/// apart in greyscale print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Marker {
    Circle,
    Square,
    Triangle,
    Cross,
}

const MARKERS: [Marker; 4] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Cross,
];

/// A vertical error bar from `lo` to `hi` through the point (`x`, `y`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct ErrorBarData {
    pub x: f64,
    pub lo: f64,
    pub y: f64,
    pub hi: f64,
}

/// One series ready to draw.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct SeriesData<'a> {
    pub name: &'a str,
    pub colour: RGBColor,
    /// `None` for series too dense to mark ([`MAX_MARKERS`]).
    pub marker: Option<Marker>,
    /// Runs of finite points, broken at skipped points and where a line leaves the y
    /// range.
    pub lines: Vec<Vec<Xy>>,
    /// The finite points inside the y range.
    pub markers: Vec<Xy>,
    /// Error bars whose point lies inside the y range; plotters cuts their ends at
    /// the plot frame.
    pub errors: Vec<ErrorBarData>,
    /// Band outlines, the upper edge left to right and the lower edge back; plotters
    /// cuts them at the plot frame.
    pub bands: Vec<Vec<Xy>>,
}

/// A validated panel with fitted axes, ready to draw.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct PanelData<'a> {
    pub panel: &'a Panel,
    /// x axis range in data units (positive on a log axis).
    pub x: (f64, f64),
    /// y axis range.
    pub y: (f64, f64),
    pub series: Vec<SeriesData<'a>>,
}

/// A series split at skipped points, before the y range is known.
#[derive(Default)]
struct RawSeries {
    lines: Vec<Vec<Xy>>,
    /// (x, low, y, high).
    errors: Vec<(f64, f64, f64, f64)>,
    /// Runs of (x, low, high).
    bands: Vec<Vec<(f64, f64, f64)>>,
}

impl<'a> PanelData<'a> {
    pub(super) fn new(figure: &str, index: usize, panel: &'a Panel) -> Result<Self, FigureError> {
        let y_range = match panel.y_range {
            Some((low, high)) if !(low.is_finite() && high.is_finite() && low < high) => {
                return Err(FigureError::InvalidYRange {
                    figure: figure.to_owned(),
                    panel: index,
                    panel_title: panel.title.clone(),
                    low,
                    high,
                });
            }
            other => other,
        };
        let raw = panel
            .series
            .iter()
            .map(|series| split_series(figure, index, panel, series))
            .collect::<Result<Vec<_>, _>>()?;

        let mut xs = Extent::default();
        let mut ys = Extent::default();
        for series in &raw {
            for &(x, y) in series.lines.iter().flatten() {
                xs.add(x);
                ys.add(y);
            }
            for &(x, lo, _, hi) in &series.errors {
                xs.add(x);
                ys.add(lo);
                ys.add(hi);
            }
            for &(x, lo, hi) in series.bands.iter().flatten() {
                xs.add(x);
                ys.add(lo);
                ys.add(hi);
            }
        }
        let x = x_range(xs.0, panel.x_scale);
        // A panel with nothing to draw still gets axes: 0..1.
        let y = y_range.unwrap_or_else(|| ys.0.map_or((0.0, 1.0), |range| pad(range, false)));
        let log_x = panel.x_scale == Scale::Log;
        let series = panel
            .series
            .iter()
            .zip(raw)
            .enumerate()
            .map(|(i, (series, raw))| fit_series(i, series, raw, y, log_x))
            .collect();
        Ok(Self {
            panel,
            x,
            y,
            series,
        })
    }

    /// Samples of everything drawn, as (0..1, 0..1) fractions of the plot area from
    /// its lower left corner: where a legend would hide data.
    pub(super) fn occupied(&self) -> Vec<Xy> {
        const STEPS: u32 = 8;
        let log = self.panel.x_scale == Scale::Log;
        let to_plot = |x: f64| if log { x.log10() } else { x };
        let (x0, x1) = (to_plot(self.x.0), to_plot(self.x.1));
        let (y0, y1) = self.y;
        let fraction = |(x, y): Xy| ((to_plot(x) - x0) / (x1 - x0), (y - y0) / (y1 - y0));
        let mut samples = Vec::new();
        // Sampled along each segment (and error bar, and band height) so that a legend
        // is not placed over the middle of a long one.
        let mut segment = |a: Xy, b: Xy| {
            let (a, b) = (fraction(a), fraction(b));
            samples.extend((0..=STEPS).map(|k| {
                let t = f64::from(k) / f64::from(STEPS);
                (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
            }));
        };
        for s in &self.series {
            for run in &s.lines {
                for pair in run.windows(2) {
                    segment(pair[0], pair[1]);
                }
                if let [only] = run.as_slice() {
                    segment(*only, *only);
                }
            }
            for e in &s.errors {
                segment((e.x, e.lo), (e.x, e.hi));
            }
            for outline in &s.bands {
                // The outline runs out along the upper edge and back along the lower.
                let half = outline.len() / 2;
                for (&upper, &lower) in outline[..half].iter().zip(outline[half..].iter().rev()) {
                    segment(lower, upper);
                }
            }
        }
        samples.retain(|&(u, v)| (0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v));
        samples
    }
}

/// Running min/max over finite values.
#[derive(Default)]
struct Extent(Option<(f64, f64)>);

impl Extent {
    fn add(&mut self, v: f64) {
        if v.is_finite() {
            self.0 = Some(match self.0 {
                Some((lo, hi)) => (lo.min(v), hi.max(v)),
                None => (v, v),
            });
        }
    }
}

/// Widens `(lo, hi)` by [`AXIS_MARGIN`] each side, or around a single value when the
/// span is empty, so nothing sits on the frame; `log` when the values are decades.
fn pad((lo, hi): (f64, f64), log: bool) -> (f64, f64) {
    let span = hi - lo;
    if span > f64::EPSILON * lo.abs().max(hi.abs()).max(1.0) {
        return (lo - span * AXIS_MARGIN, hi + span * AXIS_MARGIN);
    }
    // Half a decade either side on a log axis.
    let half = if !log && lo != 0.0 {
        lo.abs() * 0.1
    } else {
        0.5
    };
    (lo - half, hi + half)
}

/// The x axis range fitting `extent`: padded in data units on a linear axis and in
/// decades on a log axis; with nothing to fit it is 0..1 (linear) or about 1..10 (log).
/// plotters labels a log axis at the powers of ten inside it, and at their multiples
/// 2–9 as well when only one fits, so a log range holding no power of ten is widened
/// down to the one below it.
fn x_range(extent: Option<(f64, f64)>, scale: Scale) -> (f64, f64) {
    match scale {
        Scale::Linear => extent.map_or((0.0, 1.0), |range| pad(range, false)),
        Scale::Log => {
            let (lo, hi) = extent.map_or((0.0, 1.0), |(lo, hi)| (lo.log10(), hi.log10()));
            let (mut lo, hi) = pad((lo, hi), true);
            if lo.ceil() > hi.floor() {
                // A hair below the decade, so that rounding in plotters' tick search
                // cannot drop it.
                lo = lo.floor() - 1e-9;
            }
            (10f64.powf(lo), 10f64.powf(hi))
        }
    }
}

/// Splits a series at its skipped points, checking that a log axis can place it.
fn split_series(
    figure: &str,
    panel_index: usize,
    panel: &Panel,
    series: &Series,
) -> Result<RawSeries, FigureError> {
    let log = panel.x_scale == Scale::Log;
    let mut raw = RawSeries::default();
    let mut line: Vec<Xy> = Vec::new();
    let mut band: Vec<(f64, f64, f64)> = Vec::new();
    for (i, point) in series.points.iter().enumerate() {
        if log && point.x.is_finite() && point.x <= 0.0 {
            return Err(FigureError::NonPositiveLogX {
                figure: figure.to_owned(),
                panel: panel_index,
                panel_title: panel.title.clone(),
                series: series.name.clone(),
                point: i,
                x: point.x,
            });
        }
        let x = point.x.is_finite().then_some(point.x);
        let y = point.y.is_finite().then_some(point.y);
        match x.zip(y) {
            Some((x, y)) => {
                line.push((x, y));
                if let Some(e) = point.error.filter(|e| e.is_finite()) {
                    raw.errors.push((x, y - e.abs(), y, y + e.abs()));
                }
            }
            None if !line.is_empty() => raw.lines.push(std::mem::take(&mut line)),
            None => {}
        }
        let range = point
            .band
            .filter(|(lo, hi)| lo.is_finite() && hi.is_finite());
        match x.zip(range) {
            Some((x, (lo, hi))) => band.push((x, lo.min(hi), lo.max(hi))),
            None if !band.is_empty() => raw.bands.push(std::mem::take(&mut band)),
            None => {}
        }
    }
    if !line.is_empty() {
        raw.lines.push(line);
    }
    if !band.is_empty() {
        raw.bands.push(band);
    }
    Ok(raw)
}

/// Fits a split series to the panel's y range `(lo, hi)`.
fn fit_series<'a>(
    index: usize,
    series: &'a Series,
    raw: RawSeries,
    (lo, hi): (f64, f64),
    log_x: bool,
) -> SeriesData<'a> {
    let inside = |y: f64| (lo..=hi).contains(&y);
    let point_count: usize = raw.lines.iter().map(Vec::len).sum();
    let markers = raw
        .lines
        .iter()
        .flatten()
        .copied()
        .filter(|&(_, y)| inside(y))
        .collect();
    let lines = raw
        .lines
        .iter()
        .flat_map(|run| cut_to_y_range(run, (lo, hi), log_x))
        .collect();
    let errors = raw
        .errors
        .iter()
        .filter(|&&(_, _, y, _)| inside(y))
        .map(|&(x, lo, y, hi)| ErrorBarData { x, lo, y, hi })
        .collect();
    let bands = raw
        .bands
        .iter()
        .filter(|run| run.len() >= 2)
        .map(|run| {
            run.iter()
                .map(|&(x, _, hi)| (x, hi))
                .chain(run.iter().rev().map(|&(x, lo, _)| (x, lo)))
                .collect()
        })
        .collect();
    SeriesData {
        name: &series.name,
        colour: PALETTE[index % PALETTE.len()],
        marker: (point_count <= MAX_MARKERS).then_some(MARKERS[index % MARKERS.len()]),
        lines,
        markers,
        errors,
        bands,
    }
}

/// Cuts a run of points where it leaves `lo..=hi` in y, ending each piece where it
/// crosses the limit. This stays because plotters clamps each coordinate into the
/// plotting area rather than clipping shapes, which would draw a line that leaves a
/// fixed range along the frame. On a log axis the crossing is found in log space,
/// where the drawn segment is straight.
pub(super) fn cut_to_y_range(run: &[Xy], (lo, hi): (f64, f64), log_x: bool) -> Vec<Vec<Xy>> {
    let inside = |y: f64| (lo..=hi).contains(&y);
    if let [only] = run {
        return if inside(only.1) {
            vec![vec![*only]]
        } else {
            Vec::new()
        };
    }
    let along = |a: Xy, b: Xy, t: f64| {
        let x = if log_x {
            10f64.powf(a.0.log10() + t * (b.0.log10() - a.0.log10()))
        } else {
            a.0 + t * (b.0 - a.0)
        };
        (x, a.1 + t * (b.1 - a.1))
    };
    let mut pieces = Vec::new();
    let mut current: Vec<Xy> = Vec::new();
    for pair in run.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        // The share t of the segment a→b that lies within the range.
        let (t0, t1) = if a.1 == b.1 {
            if inside(a.1) { (0.0, 1.0) } else { (1.0, 0.0) }
        } else {
            let (ta, tb) = ((lo - a.1) / (b.1 - a.1), (hi - a.1) / (b.1 - a.1));
            (ta.min(tb).max(0.0), ta.max(tb).min(1.0))
        };
        if t0 > t1 {
            if !current.is_empty() {
                pieces.push(std::mem::take(&mut current));
            }
            continue;
        }
        if current.is_empty() || t0 > 0.0 {
            if !current.is_empty() {
                pieces.push(std::mem::take(&mut current));
            }
            current.push(if t0 > 0.0 { along(a, b, t0) } else { a });
        }
        current.push(if t1 < 1.0 { along(a, b, t1) } else { b });
        if t1 < 1.0 {
            pieces.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}
