//! Line charts for experiment figures, rendered to SVG and PNG with plotters.
//!
//! A [`Figure`] is a title over one or more [`Panel`]s side by side; each panel holds
//! named [`Series`] drawn as lines with optional markers, ±error bars and shaded
//! bands. Text uses the DejaVu Sans font compiled into the binary (plotters'
//! `ab_glyph` text backend), so rendering never looks for system fonts. Tick positions
//! and labels are computed here rather than by plotters, so log axes get decade ticks
//! and labels read like the numbers a paper would print. Nothing here reads the clock,
//! the environment or the filesystem: the same figure renders to the same bytes.

use std::ops::Range;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Width in pixels of one panel; a figure is this times its panel count wide.
pub const PANEL_WIDTH: u32 = 600;
/// Height in pixels of every figure, title included.
pub const FIGURE_HEIGHT: u32 = 450;
/// Most panels one figure may hold; wider images stop being readable on a page.
pub const MAX_PANELS: usize = 32;
/// Series with more drawable points than this get no markers: dense markers merge into
/// a thick smear that hides the line and the band behind it.
pub const MAX_MARKERS: usize = 40;

/// One point; `error` is a symmetric ± half-width (error bar), `band` a (low, high) range.
///
/// Non-finite coordinates (NaN, ±∞) are skipped: a point without a finite `x` and `y`
/// breaks the line there, and a non-finite `error` or `band` is simply not drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Horizontal position, in data units.
    pub x: f64,
    /// Vertical position, in data units.
    pub y: f64,
    /// Half-width of a vertical error bar around `y` (its sign is ignored).
    pub error: Option<f64>,
    /// A (low, high) range at `x`, shaded between neighbouring points of the series.
    pub band: Option<(f64, f64)>,
}

impl Point {
    /// A plain point with neither error bar nor band.
    pub fn new(x: f64, y: f64) -> Self {
        Self {
            x,
            y,
            error: None,
            band: None,
        }
    }

    /// A point with a symmetric ± `error` bar.
    pub fn with_error(x: f64, y: f64, error: f64) -> Self {
        Self {
            error: Some(error),
            ..Self::new(x, y)
        }
    }

    /// A point with a shaded (`low`, `high`) band, e.g. an interquartile range.
    pub fn with_band(x: f64, y: f64, low: f64, high: f64) -> Self {
        Self {
            band: Some((low, high)),
            ..Self::new(x, y)
        }
    }
}

/// A named series of points, drawn as a line with markers; bands as shaded areas.
///
/// Points are joined in the order given. An empty name keeps the series out of the legend.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// The data, joined in order.
    pub points: Vec<Point>,
}

/// How an axis maps data values to positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Evenly spaced values.
    Linear,
    /// Evenly spaced powers of ten; every drawn value must be positive.
    Log,
}

/// One chart area.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// Caption above the chart; may be empty.
    pub title: String,
    /// Description under the x axis.
    pub x_label: String,
    /// Description beside the y axis.
    pub y_label: String,
    /// Scale of the x axis (the y axis is always linear).
    pub x_scale: Scale,
    /// The series, coloured from a fixed palette in this order.
    pub series: Vec<Series>,
    /// Fixed y range (low, high); `None` fits the data, error bars and bands included.
    /// Whatever falls outside a fixed range is clipped away.
    pub y_range: Option<(f64, f64)>,
}

/// A figure: a title and one or more panels side by side.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Title above all panels; may be empty.
    pub title: String,
    /// Panels, left to right.
    pub panels: Vec<Panel>,
}

/// Why a figure could not be rendered. Each variant names the figure (and where it
/// applies the panel, series and point) by title and index.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// The figure has no panels, so there is nothing to size or draw.
    #[error("figure {figure:?}: has no panels to draw")]
    NoPanels {
        /// Figure title.
        figure: String,
    },
    /// More panels than [`MAX_PANELS`].
    #[error("figure {figure:?}: {panels} panels is more than the {MAX_PANELS} allowed")]
    TooManyPanels {
        /// Figure title.
        figure: String,
        /// Panel count given.
        panels: usize,
    },
    /// A finite x value that is zero or negative on a log-scale x axis.
    #[error(
        "figure {figure:?}, panel {panel} {panel_title:?}, series {series:?}, point {point}: \
         x = {x} is not positive, so it cannot be placed on a log-scale x axis"
    )]
    NonPositiveLogX {
        /// Figure title.
        figure: String,
        /// Panel index, from 0.
        panel: usize,
        /// Panel title.
        panel_title: String,
        /// Series name.
        series: String,
        /// Point index within the series, from 0.
        point: usize,
        /// The offending value.
        x: f64,
    },
    /// A fixed `y_range` that is not finite with low < high.
    #[error(
        "figure {figure:?}, panel {panel} {panel_title:?}: y_range ({low}, {high}) \
         must be finite with low < high"
    )]
    InvalidYRange {
        /// Figure title.
        figure: String,
        /// Panel index, from 0.
        panel: usize,
        /// Panel title.
        panel_title: String,
        /// Given lower end.
        low: f64,
        /// Given upper end.
        high: f64,
    },
    /// The bundled font could not be parsed or registered with plotters.
    #[error("bundled font DejaVuSans.ttf could not be registered with plotters")]
    Font,
    /// plotters failed while drawing.
    #[error("figure {figure:?}: drawing the {format} failed: {message}")]
    Render {
        /// Figure title.
        figure: String,
        /// "SVG" or "PNG".
        format: &'static str,
        /// plotters' description of the failure.
        message: String,
    },
    /// The PNG encoder rejected the rendered pixels.
    #[error("figure {figure:?}: encoding the PNG failed")]
    PngEncode {
        /// Figure title.
        figure: String,
        /// The encoder's error.
        #[source]
        source: png::EncodingError,
    },
}

impl Figure {
    /// The figure's size in pixels: [`PANEL_WIDTH`] per panel by [`FIGURE_HEIGHT`].
    pub fn pixel_size(&self) -> Result<(u32, u32), FigureError> {
        let panels = self.panels.len();
        if panels == 0 {
            return Err(FigureError::NoPanels {
                figure: self.title.clone(),
            });
        }
        let too_many = || FigureError::TooManyPanels {
            figure: self.title.clone(),
            panels,
        };
        if panels > MAX_PANELS {
            return Err(too_many());
        }
        let width = u32::try_from(panels)
            .ok()
            .and_then(|n| n.checked_mul(PANEL_WIDTH))
            .ok_or_else(too_many)?;
        Ok((width, FIGURE_HEIGHT))
    }

    /// The figure as SVG text (deterministic: identical input → identical bytes).
    pub fn to_svg(&self) -> Result<String, FigureError> {
        let size = self.pixel_size()?;
        let panels = self.prepare()?;
        register_font()?;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
            self.draw(&root, &panels, "SVG")?;
            root.present().map_err(|e| self.render_error("SVG", e))?;
        }
        Ok(svg)
    }

    /// The figure as PNG bytes, [`Figure::pixel_size`] pixels, 8-bit RGB
    /// (deterministic: identical input → identical bytes).
    pub fn to_png(&self) -> Result<Vec<u8>, FigureError> {
        let (width, height) = self.pixel_size()?;
        let panels = self.prepare()?;
        register_font()?;
        // pixel_size caps the width, so this product stays far below usize::MAX.
        let mut pixels = vec![0u8; width as usize * height as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
            self.draw(&root, &panels, "PNG")?;
            root.present().map_err(|e| self.render_error("PNG", e))?;
        }
        encode_png(&pixels, width, height).map_err(|source| FigureError::PngEncode {
            figure: self.title.clone(),
            source,
        })
    }

    fn render_error(&self, format: &'static str, error: impl std::fmt::Display) -> FigureError {
        FigureError::Render {
            figure: self.title.clone(),
            format,
            message: error.to_string(),
        }
    }

    /// Validates every panel and turns it into drawable geometry before any drawing
    /// starts, so bad data fails with a precise error instead of half a picture.
    fn prepare(&self) -> Result<Vec<PanelData<'_>>, FigureError> {
        self.panels
            .iter()
            .enumerate()
            .map(|(index, panel)| PanelData::new(&self.title, index, panel))
            .collect()
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        panels: &[PanelData<'_>],
        format: &'static str,
    ) -> Result<(), FigureError> {
        let fail = |e: DrawingAreaErrorKind<DB::ErrorType>| self.render_error(format, e);
        root.fill(&WHITE).map_err(fail)?;
        let body = if self.title.is_empty() {
            root.clone()
        } else {
            // A little air above the title; `titled` sets it almost on the edge.
            root.margin(6, 0, 0, 0)
                .titled(&self.title, text_style(TITLE_FONT))
                .map_err(fail)?
        };
        for (area, panel) in body.split_evenly((1, panels.len())).iter().zip(panels) {
            panel.draw(area).map_err(fail)?;
        }
        Ok(())
    }
}

/// Registered under a family name of its own so that fonts other code registers with
/// plotters cannot change our output; SVG viewers without DejaVu Sans fall back to
/// their own sans-serif through the same CSS-style list.
const FONT_FAMILY: &str = "DejaVu Sans, sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

const TITLE_FONT: u32 = 22;
const CAPTION_FONT: u32 = 18;
const AXIS_DESC_FONT: u32 = 15;
const LEGEND_FONT: u32 = 14;
const TICK_FONT: u32 = 13;
/// Rough advance of one tick-label character, to size the y label area before
/// plotters lays out any text.
const CHAR_WIDTH_PX: f64 = 7.5;

const BAND_ALPHA: f64 = 0.22;
const LINE_WIDTH: u32 = 2;
/// Legend layout in pixels: gap to the plot frame, inner padding, sample glyph length
/// and space between glyph and text.
const LEGEND_INSET: u32 = 8;
const LEGEND_PADDING: u32 = 8;
const LEGEND_GLYPH: u32 = 24;
const LEGEND_GAP: u32 = 8;
const LEGEND_CLEARANCE: f64 = 10.0;
const MARKER_RADIUS: i32 = 4;
const CAP_HALF_WIDTH: i32 = 5;
/// Share of the data span left empty on each side of a fitted axis.
const AXIS_MARGIN: f64 = 0.05;
const MAX_TICKS: usize = 8;

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

/// Marker shapes cycle alongside colours so series stay apart in greyscale print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
}

const MARKERS: [Marker; 4] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Diamond,
];

fn register_font() -> Result<(), FigureError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if registered {
        Ok(())
    } else {
        Err(FigureError::Font)
    }
}

fn text_style(size: u32) -> TextStyle<'static> {
    (FONT_FAMILY, size).into_font().color(&BLACK)
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

/// A position in plot space: x already log10-transformed on log axes.
type Xy = (f64, f64);

/// An axis in plot space with the ticks to label it.
#[derive(Clone, Debug, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    labels: Vec<String>,
}

impl Axis {
    fn new(lo: f64, hi: f64, scale: Scale) -> Self {
        let (ticks, labels) = match scale {
            Scale::Linear => linear_ticks(lo, hi, MAX_TICKS),
            Scale::Log => log_ticks(lo, hi, MAX_TICKS),
        };
        Self {
            lo,
            hi,
            ticks,
            labels,
        }
    }

    /// plotters asks for labels by value; it only asks for our own ticks, so the
    /// nearest one is the exact one.
    fn label(&self, value: f64) -> String {
        self.ticks
            .iter()
            .zip(&self.labels)
            .min_by(|a, b| (a.0 - value).abs().total_cmp(&(b.0 - value).abs()))
            .map(|(_, label)| label.clone())
            .unwrap_or_default()
    }

    fn normalise(&self, value: f64) -> f64 {
        (value - self.lo) / (self.hi - self.lo)
    }

    fn coord(&self) -> TickedCoord {
        TickedCoord {
            linear: (self.lo..self.hi).into(),
            ticks: self.ticks.clone(),
        }
    }
}

/// A linear plot-space coordinate whose ticks are exactly [`Axis::ticks`]: plotters'
/// own `WithKeyPoints` cannot take a label formatter on f64 axes.
struct TickedCoord {
    linear: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ranged for TickedCoord {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Light points feed the faint in-between grid lines, which these charts leave out.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.linear.range()
    }
}

/// Ticks at multiples of 1, 2 or 5 × 10^k: the finest such step that keeps at most
/// `max` ticks.
fn linear_ticks(lo: f64, hi: f64, max: usize) -> (Vec<f64>, Vec<String>) {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) || max == 0 {
        return (Vec::new(), Vec::new());
    }
    // `intervals` steps fit at most `intervals + 1` ticks in the span.
    let intervals = max.saturating_sub(1).max(1) as f64;
    let mut exponent = (span / intervals).log10().floor() as i32;
    let step = loop {
        let base = 10f64.powi(exponent);
        if let Some(mult) = [1.0, 2.0, 5.0]
            .into_iter()
            .find(|m| span / (m * base) <= intervals)
        {
            break mult * base;
        }
        exponent += 1;
    };
    let decimals = usize::try_from(-exponent).unwrap_or(0);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    // The cap only matters if float rounding ever made `first..=last` absurdly long.
    let ticks: Vec<f64> = (first..=last)
        .take(2 * max + 2)
        .map(|i| i as f64 * step)
        .collect();
    let labels = ticks
        .iter()
        .map(|&t| {
            let label = format!("{t:.decimals$}");
            // Rounding can leave "-0.00", which reads as a different number.
            if label
                .trim_start_matches('-')
                .chars()
                .all(|c| c == '0' || c == '.')
            {
                label.trim_start_matches('-').to_owned()
            } else {
                label
            }
        })
        .collect();
    (ticks, labels)
}

/// Ticks on a log10 plot-space axis: whole decades when at least two fit, otherwise
/// 1-2-5 (or every integer) multiples inside the decades, labelled in data units.
fn log_ticks(lo: f64, hi: f64, max: usize) -> (Vec<f64>, Vec<String>) {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) || max == 0 {
        return (Vec::new(), Vec::new());
    }
    let first = (lo - 1e-9).ceil() as i32;
    let last = (hi + 1e-9).floor() as i32;
    let decades = (first..=last).count();
    let mut chosen: Vec<(u32, i32)> = Vec::new();
    if decades >= 2 {
        let stride = decades.div_ceil(max).max(1);
        chosen.extend(
            (first..=last)
                .filter(|d| d.rem_euclid(stride as i32) == 0)
                .map(|d| (1, d)),
        );
    } else {
        let within = |mults: &[u32]| -> Vec<(u32, i32)> {
            (first - 1..=last)
                .flat_map(|d| mults.iter().map(move |&m| (m, d)))
                .filter(|&(m, d)| {
                    let v = f64::from(m).log10() + f64::from(d);
                    v >= lo - 1e-9 && v <= hi + 1e-9
                })
                .collect()
        };
        chosen = within(&[1, 2, 5]);
        if chosen.len() < 3 {
            chosen = within(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        }
    }
    let ticks = chosen
        .iter()
        .map(|&(m, d)| f64::from(m).log10() + f64::from(d))
        .collect();
    let labels = chosen.iter().map(|&(m, d)| power_label(m, d)).collect();
    (ticks, labels)
}

/// `mantissa` × 10^`exponent` written out, switching to "me±k" outside 0.001..99999
/// where plain digits get too long for a tick.
fn power_label(mantissa: u32, exponent: i32) -> String {
    match exponent {
        0..=4 => (u64::from(mantissa) * 10u64.pow(exponent.unsigned_abs())).to_string(),
        -3..=-1 => format!(
            "0.{}{mantissa}",
            "0".repeat(exponent.unsigned_abs() as usize - 1)
        ),
        _ => format!("{mantissa}e{exponent}"),
    }
}

/// Widens `(lo, hi)` by [`AXIS_MARGIN`] each side, or around a single value when the
/// span is empty, so nothing sits on the frame.
fn pad((lo, hi): (f64, f64), scale: Scale) -> (f64, f64) {
    let span = hi - lo;
    if span > f64::EPSILON * lo.abs().max(hi.abs()).max(1.0) {
        return (lo - span * AXIS_MARGIN, hi + span * AXIS_MARGIN);
    }
    let half = match scale {
        // Half a decade either side in log10 space.
        Scale::Log => 0.5,
        Scale::Linear if lo != 0.0 => lo.abs() * 0.1,
        Scale::Linear => 0.5,
    };
    (lo - half, hi + half)
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Bounds {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Bounds {
    fn contains(&self, (x, y): Xy) -> bool {
        (self.x0..=self.x1).contains(&x) && (self.y0..=self.y1).contains(&y)
    }
}

/// Liang–Barsky clipping of segment `a`–`b`; also says whether each end was moved, so
/// callers can tell where a polyline leaves and re-enters the plot.
fn clip_segment(a: Xy, b: Xy, r: &Bounds) -> Option<(Xy, Xy, bool, bool)> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - r.x0),
        (dx, r.x1 - a.0),
        (-dy, a.1 - r.y0),
        (dy, r.y1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| (a.0 + t * dx, a.1 + t * dy);
    let (start_moved, end_moved) = (t0 > 0.0, t1 < 1.0);
    Some((
        if start_moved { at(t0) } else { a },
        if end_moved { at(t1) } else { b },
        start_moved,
        end_moved,
    ))
}

/// Splits a polyline into the pieces that lie inside `r`.
fn clip_polyline(run: &[Xy], r: &Bounds) -> Vec<Vec<Xy>> {
    if let [only] = run {
        return if r.contains(*only) {
            vec![vec![*only]]
        } else {
            Vec::new()
        };
    }
    let mut pieces = Vec::new();
    let mut current: Vec<Xy> = Vec::new();
    for pair in run.windows(2) {
        match clip_segment(pair[0], pair[1], r) {
            Some((p, q, start_moved, end_moved)) => {
                if current.is_empty() || start_moved {
                    if !current.is_empty() {
                        pieces.push(std::mem::take(&mut current));
                    }
                    current.push(p);
                }
                current.push(q);
                if end_moved {
                    pieces.push(std::mem::take(&mut current));
                }
            }
            None => {
                if !current.is_empty() {
                    pieces.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// Sutherland–Hodgman clipping of a polygon to `r`.
fn clip_polygon(polygon: &[Xy], r: &Bounds) -> Vec<Xy> {
    type Inside = fn(Xy, &Bounds) -> bool;
    type Cross = fn(Xy, Xy, &Bounds) -> Xy;
    fn lerp_x(a: Xy, b: Xy, x: f64) -> Xy {
        (x, a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0))
    }
    fn lerp_y(a: Xy, b: Xy, y: f64) -> Xy {
        (a.0 + (b.0 - a.0) * (y - a.1) / (b.1 - a.1), y)
    }
    let edges: [(Inside, Cross); 4] = [
        (|p, r| p.0 >= r.x0, |a, b, r| lerp_x(a, b, r.x0)),
        (|p, r| p.0 <= r.x1, |a, b, r| lerp_x(a, b, r.x1)),
        (|p, r| p.1 >= r.y0, |a, b, r| lerp_y(a, b, r.y0)),
        (|p, r| p.1 <= r.y1, |a, b, r| lerp_y(a, b, r.y1)),
    ];
    let mut output = polygon.to_vec();
    for (inside, cross) in edges {
        let input = std::mem::take(&mut output);
        let Some(&last) = input.last() else {
            break;
        };
        let mut previous = last;
        for &point in &input {
            match (inside(point, r), inside(previous, r)) {
                (true, true) => output.push(point),
                (true, false) => {
                    output.push(cross(previous, point, r));
                    output.push(point);
                }
                (false, true) => output.push(cross(previous, point, r)),
                (false, false) => {}
            }
            previous = point;
        }
    }
    output
}

/// An error bar in plot space, already clipped; a clipped end gets no cap because the
/// bar continues beyond the frame.
#[derive(Clone, Debug, PartialEq)]
struct ErrorBarData {
    x: f64,
    lo: f64,
    hi: f64,
    cap_lo: bool,
    cap_hi: bool,
}

/// One series reduced to clipped, drawable geometry.
#[derive(Clone, Debug, PartialEq)]
struct SeriesData<'a> {
    name: &'a str,
    colour: RGBColor,
    marker: Option<Marker>,
    lines: Vec<Vec<Xy>>,
    markers: Vec<Xy>,
    errors: Vec<ErrorBarData>,
    bands: Vec<Vec<Xy>>,
    has_band: bool,
}

/// A validated panel in plot space, ready to draw.
#[derive(Clone, Debug, PartialEq)]
struct PanelData<'a> {
    panel: &'a Panel,
    x: Axis,
    y: Axis,
    series: Vec<SeriesData<'a>>,
    /// Where the data lies, in 0..1 plot fractions, to find an empty legend corner.
    occupied: Vec<Xy>,
}

/// A series split at skipped points, still unclipped.
#[derive(Default)]
struct RawSeries {
    lines: Vec<Vec<Xy>>,
    errors: Vec<(f64, f64, f64)>,
    bands: Vec<Vec<(f64, f64, f64)>>,
}

impl<'a> PanelData<'a> {
    fn new(figure: &str, index: usize, panel: &'a Panel) -> Result<Self, FigureError> {
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
            for &(x, lo, hi) in series.errors.iter().chain(series.bands.iter().flatten()) {
                xs.add(x);
                ys.add(lo);
                ys.add(hi);
            }
        }
        // A panel with nothing to draw still gets axes: 0..1, or 1..10 on a log axis.
        let (x_lo, x_hi) = pad(xs.get().unwrap_or((0.0, 1.0)), panel.x_scale);
        let (y_lo, y_hi) = match y_range {
            Some(range) => range,
            None => ys
                .get()
                .map_or((0.0, 1.0), |range| pad(range, Scale::Linear)),
        };
        let x = Axis::new(x_lo, x_hi, panel.x_scale);
        let y = Axis::new(y_lo, y_hi, Scale::Linear);
        let bounds = Bounds {
            x0: x_lo,
            x1: x_hi,
            y0: y_lo,
            y1: y_hi,
        };

        let series: Vec<SeriesData<'a>> = panel
            .series
            .iter()
            .zip(&raw)
            .enumerate()
            .map(|(i, (series, raw))| clip_series(i, series, raw, &bounds))
            .collect();

        let occupied = occupied_fractions(&series, &raw, &x, &y);
        Ok(Self {
            panel,
            x,
            y,
            series,
            occupied,
        })
    }

    fn y_label_area(&self) -> u32 {
        let widest = self.y.labels.iter().map(|l| l.chars().count()).max();
        // Tick labels plus room for the rotated axis description beside them.
        (30.0 + CHAR_WIDTH_PX * widest.unwrap_or(1) as f64).round() as u32
    }

    /// The top-left pixel of a `width` × `height` legend box in the plot-area corner
    /// that covers the least data, preferring upper right, upper left, lower right,
    /// lower left on ties.
    fn legend_origin(
        &self,
        (width, height): (u32, u32),
        (plot_w, plot_h): (u32, u32),
    ) -> BackendCoordinate {
        let (plot_w, plot_h) = (f64::from(plot_w.max(1)), f64::from(plot_h.max(1)));
        let inset = f64::from(LEGEND_INSET);
        // Data just outside the box still crowds it, so the test area is a little larger.
        let w = (f64::from(width) + inset + LEGEND_CLEARANCE) / plot_w;
        let h = (f64::from(height) + inset + LEGEND_CLEARANCE) / plot_h;
        let mut best = ((true, true), usize::MAX);
        for corner @ (right, upper) in [(true, true), (false, true), (true, false), (false, false)]
        {
            let covered = self
                .occupied
                .iter()
                .filter(|&&(u, v)| {
                    let in_x = if right { u >= 1.0 - w } else { u <= w };
                    let in_y = if upper { v >= 1.0 - h } else { v <= h };
                    in_x && in_y
                })
                .count();
            if covered < best.1 {
                best = (corner, covered);
            }
        }
        let ((right, upper), _) = best;
        let x = if right {
            plot_w - f64::from(width) - inset
        } else {
            inset
        };
        let y = if upper {
            inset
        } else {
            plot_h - f64::from(height) - inset
        };
        (x.max(0.0) as i32, y.max(0.0) as i32)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let mut builder = ChartBuilder::on(area);
        builder
            .margin(12)
            .margin_right(22)
            .x_label_area_size(48)
            .y_label_area_size(self.y_label_area());
        if !self.panel.title.is_empty() {
            builder.caption(&self.panel.title, text_style(CAPTION_FONT));
        }
        let mut chart = builder.build_cartesian_2d(self.x.coord(), self.y.coord())?;

        let x_format = |v: &f64| self.x.label(*v);
        let y_format = |v: &f64| self.y.label(*v);
        chart
            .configure_mesh()
            .x_desc(self.panel.x_label.as_str())
            .y_desc(self.panel.y_label.as_str())
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .label_style(text_style(TICK_FONT))
            .axis_desc_style(text_style(AXIS_DESC_FONT))
            .axis_style(BLACK.mix(0.8))
            .bold_line_style(BLACK.mix(0.1))
            .light_line_style(TRANSPARENT)
            .draw()?;

        // Bands first so every line, bar and marker stays on top of the shading.
        for s in &self.series {
            let fill = s.colour.mix(BAND_ALPHA).filled();
            chart.draw_series(s.bands.iter().map(|p| Polygon::new(p.clone(), fill)))?;
        }
        for s in &self.series {
            let stroke = s.colour.stroke_width(LINE_WIDTH);
            chart.draw_series(
                s.lines
                    .iter()
                    .map(|run| PathElement::new(run.clone(), stroke)),
            )?;
        }
        for s in &self.series {
            let stroke = s.colour.stroke_width(1);
            chart.draw_series(
                s.errors
                    .iter()
                    .map(|e| PathElement::new(vec![(e.x, e.lo), (e.x, e.hi)], stroke)),
            )?;
            let caps = s.errors.iter().flat_map(|e| {
                [(e.cap_lo, e.lo), (e.cap_hi, e.hi)]
                    .into_iter()
                    .filter(|&(capped, _)| capped)
                    .map(move |(_, y)| (e.x, y))
            });
            chart.draw_series(caps.map(|at| {
                EmptyElement::at(at)
                    + PathElement::new(vec![(-CAP_HALF_WIDTH, 0), (CAP_HALF_WIDTH, 0)], stroke)
            }))?;
            let fill = s.colour.filled();
            match s.marker {
                Some(Marker::Circle) => {
                    chart.draw_series(s.markers.iter().map(|&at| {
                        EmptyElement::at(at) + Circle::new((0, 0), MARKER_RADIUS, fill)
                    }))?;
                }
                Some(marker) => {
                    chart.draw_series(s.markers.iter().map(|&at| {
                        EmptyElement::at(at) + Polygon::new(polygon_marker(marker, (0, 0)), fill)
                    }))?;
                }
                None => {}
            }
        }
        self.draw_legend(&chart.plotting_area().strip_coord_spec())
    }

    /// Draws the legend by hand in pixel space: plotters' own legend can only compose
    /// glyphs whose drawing backend is `'static`, which the in-memory bitmap is not.
    fn draw_legend<DB: DrawingBackend>(
        &self,
        plot: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let labelled: Vec<&SeriesData<'_>> =
            self.series.iter().filter(|s| !s.name.is_empty()).collect();
        if labelled.is_empty() {
            return Ok(());
        }
        let font = text_style(LEGEND_FONT);
        let mut text_width = 0;
        let mut row_height = LEGEND_FONT + 4;
        for s in &labelled {
            let (w, h) = plot.estimate_text_size(s.name, &font)?;
            text_width = text_width.max(w);
            row_height = row_height.max(h + 4);
        }
        let pad = LEGEND_PADDING;
        let rows = u32::try_from(labelled.len()).unwrap_or(u32::MAX);
        let size = (
            2 * pad + LEGEND_GLYPH + LEGEND_GAP + text_width,
            (2 * pad).saturating_add(rows.saturating_mul(row_height)),
        );
        let (x0, y0) = self.legend_origin(size, plot.dim_in_pixel());
        let (w, h) = (
            i32::try_from(size.0).unwrap_or(i32::MAX),
            i32::try_from(size.1).unwrap_or(i32::MAX),
        );
        plot.draw(&Rectangle::new(
            [(x0, y0), (x0 + w, y0 + h)],
            WHITE.mix(0.9).filled(),
        ))?;
        plot.draw(&Rectangle::new(
            [(x0, y0), (x0 + w, y0 + h)],
            BLACK.mix(0.35),
        ))?;

        let font = font.pos(Pos::new(HPos::Left, VPos::Center));
        let (pad, glyph, gap, row) = (
            pad as i32,
            LEGEND_GLYPH as i32,
            LEGEND_GAP as i32,
            row_height as i32,
        );
        for (i, s) in labelled.iter().enumerate() {
            let left = x0 + pad;
            let mid = y0 + pad + row * i as i32 + row / 2;
            if s.has_band {
                let fill = s.colour.mix(BAND_ALPHA).filled();
                plot.draw(&Rectangle::new(
                    [(left, mid - 7), (left + glyph, mid + 7)],
                    fill,
                ))?;
            }
            let stroke = s.colour.stroke_width(LINE_WIDTH);
            plot.draw(&PathElement::new(
                vec![(left, mid), (left + glyph, mid)],
                stroke,
            ))?;
            let centre = (left + glyph / 2, mid);
            match s.marker {
                Some(Marker::Circle) => {
                    plot.draw(&Circle::new(centre, MARKER_RADIUS, s.colour.filled()))?;
                }
                Some(marker) => {
                    plot.draw(&Polygon::new(
                        polygon_marker(marker, centre),
                        s.colour.filled(),
                    ))?;
                }
                None => {}
            }
            plot.draw(&Text::new(s.name, (left + glyph + gap, mid), font.clone()))?;
        }
        Ok(())
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

    fn get(&self) -> Option<(f64, f64)> {
        self.0
    }
}

/// Moves a series into plot space, breaking lines and bands where points are skipped.
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
        let x = if log { point.x.log10() } else { point.x };
        let x = x.is_finite().then_some(x);
        let y = point.y.is_finite().then_some(point.y);

        match x.zip(y) {
            Some(xy) => {
                line.push(xy);
                if let Some(e) = point.error.filter(|e| e.is_finite()) {
                    raw.errors.push((xy.0, xy.1 - e.abs(), xy.1 + e.abs()));
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

fn clip_series<'a>(
    index: usize,
    series: &'a Series,
    raw: &RawSeries,
    r: &Bounds,
) -> SeriesData<'a> {
    let point_count: usize = raw.lines.iter().map(Vec::len).sum();
    let lines = raw
        .lines
        .iter()
        .flat_map(|run| clip_polyline(run, r))
        .collect();
    let markers = raw
        .lines
        .iter()
        .flatten()
        .copied()
        .filter(|&p| r.contains(p))
        .collect();
    let errors = raw
        .errors
        .iter()
        .filter(|&&(x, lo, hi)| (r.x0..=r.x1).contains(&x) && hi >= r.y0 && lo <= r.y1)
        .map(|&(x, lo, hi)| ErrorBarData {
            x,
            lo: lo.max(r.y0),
            hi: hi.min(r.y1),
            cap_lo: lo >= r.y0,
            cap_hi: hi <= r.y1,
        })
        .collect();
    let bands = raw
        .bands
        .iter()
        .map(|run| {
            // Upper edge left to right, then lower edge back, outlines the band.
            let outline: Vec<Xy> = run
                .iter()
                .map(|&(x, _, hi)| (x, hi))
                .chain(run.iter().rev().map(|&(x, lo, _)| (x, lo)))
                .collect();
            clip_polygon(&outline, r)
        })
        .filter(|polygon| polygon.len() >= 3)
        .collect();
    SeriesData {
        name: &series.name,
        colour: PALETTE[index % PALETTE.len()],
        marker: (point_count <= MAX_MARKERS).then_some(MARKERS[index % MARKERS.len()]),
        lines,
        markers,
        errors,
        bands,
        has_band: !raw.bands.is_empty(),
    }
}

/// Samples of everything drawn, as 0..1 fractions of the plot area.
fn occupied_fractions(series: &[SeriesData<'_>], raw: &[RawSeries], x: &Axis, y: &Axis) -> Vec<Xy> {
    const STEPS: usize = 8;
    let lerp = |a: Xy, b: Xy, t: f64| (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
    let mut samples: Vec<Xy> = Vec::new();
    for s in series {
        for run in &s.lines {
            samples.extend(run.iter().copied());
            for pair in run.windows(2) {
                samples.extend((1..STEPS).map(|k| lerp(pair[0], pair[1], k as f64 / STEPS as f64)));
            }
        }
        for e in &s.errors {
            samples.extend(
                (0..=STEPS).map(|k| lerp((e.x, e.lo), (e.x, e.hi), k as f64 / STEPS as f64)),
            );
        }
    }
    // Band interiors count too: a legend over shading hides the spread it shows.
    for (lo, hi) in raw
        .iter()
        .flat_map(|r| &r.bands)
        .flatten()
        .map(|&(x, lo, hi)| ((x, lo), (x, hi)))
    {
        samples.extend((0..=STEPS).map(|k| lerp(lo, hi, k as f64 / STEPS as f64)));
    }
    samples
        .into_iter()
        .map(|(px, py)| (x.normalise(px), y.normalise(py)))
        .filter(|&(u, v)| (0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v))
        .collect()
}

/// Outline of a marker centred `at`, in pixels. Circles are drawn with plotters'
/// `Circle` instead; they map to a square here only to keep the match total.
fn polygon_marker(marker: Marker, (x, y): BackendCoordinate) -> Vec<BackendCoordinate> {
    let r = MARKER_RADIUS;
    match marker {
        Marker::Circle | Marker::Square => vec![
            (x - r, y - r),
            (x + r, y - r),
            (x + r, y + r),
            (x - r, y + r),
        ],
        Marker::Triangle => vec![(x, y - r - 1), (x + r + 1, y + r), (x - r - 1, y + r)],
        Marker::Diamond => vec![
            (x, y - r - 1),
            (x + r + 1, y),
            (x, y + r + 1),
            (x - r - 1, y),
        ],
    }
}

type BackendCoordinate = (i32, i32);

#[cfg(test)]
mod tests {
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

    fn panel(
        title: &str,
        x_label: &str,
        y_label: &str,
        x_scale: Scale,
        series: Vec<Series>,
    ) -> Panel {
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

    fn assert_renders(figure: &Figure, texts: &[&str]) {
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
    }

    #[test]
    fn market_share_chart_renders_with_error_bars_in_two_panels() {
        let figure = market_share_figure();
        assert_renders(
            &figure,
            &[
                "Market share by tier",
                "fixed tiers",
                "revenue-rate tiering",
                "investor 1",
                "investor 3",
                "market share",
                "tier",
            ],
        );
        let data = figure.prepare().expect("valid figure");
        assert_eq!(data[0].x.labels, ["0", "1", "2", "3", "4"]);
        assert_eq!(data[0].y.labels.first().map(String::as_str), Some("0.0"));
        assert_eq!(data[0].y.labels.last().map(String::as_str), Some("1.0"));
        assert!(
            data.iter()
                .all(|p| p.series.iter().all(|s| s.errors.len() == 5))
        );
    }

    #[test]
    fn percentile_chart_renders_bands_under_median_lines() {
        let figure = percentile_figure();
        assert_renders(
            &figure,
            &[
                "Dealer market share over time",
                "identical curves (≈50% share)",
                "strictly cheaper (100% share)",
                "tick",
                "<polygon",
            ],
        );
        let data = figure.prepare().expect("valid figure");
        let s = &data[0].series;
        assert!(s.iter().all(|s| s.has_band && s.bands.len() == 1));
        // 97 points per series: too dense for markers.
        assert!(s.iter().all(|s| s.marker.is_none()));
        assert_eq!(data[0].x.labels, ["0", "20", "40", "60", "80", "100"]);
    }

    #[test]
    fn cost_chart_renders_on_log_axes() {
        let figure = cost_figure();
        assert_renders(
            &figure,
            &[
                "Hedging cost against risk aversion",
                "hedging with market makers",
                "hedging on the exchange",
                "σ = 10%",
                "σ = 30%",
                "risk aversion γ",
                ">\n0.01\n<",
                ">\n100\n<",
            ],
        );
        let data = figure.prepare().expect("valid figure");
        assert_eq!(data[0].x.labels, ["0.01", "0.1", "1", "10", "100"]);
        assert!(data[0].series.iter().all(|s| s.marker.is_some()));
    }

    #[test]
    fn same_figure_renders_identical_bytes() {
        for figure in [market_share_figure(), percentile_figure(), cost_figure()] {
            assert_eq!(figure.to_svg().ok(), figure.clone().to_svg().ok());
            let first = figure.to_png().expect("PNG renders");
            let second = figure.to_png().expect("PNG renders");
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

        let figure = edge_case_figure();
        assert_renders(&figure, &["no series", "empty series", "none"]);
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
        assert_eq!(s.errors.len(), 1);
        assert!(!s.has_band);
        // The infinite point's y = 100 must not stretch the axis.
        assert!(data[0].y.hi < 6.0, "y axis reaches {}", data[0].y.hi);
    }

    #[test]
    fn fixed_y_range_is_validated_and_clips_data() {
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
        let inside = |&(_, y): &Xy| (0.45..=0.55).contains(&y);
        for s in &data[0].series {
            assert!(s.lines.iter().flatten().all(inside));
            assert!(s.markers.iter().all(inside));
            assert!(s.errors.iter().all(|e| e.lo >= 0.45 && e.hi <= 0.55));
        }
        assert_renders(&figure, &["fixed tiers"]);
    }

    #[test]
    fn clipping_splits_lines_where_they_leave_the_plot() {
        let r = Bounds {
            x0: 0.0,
            x1: 10.0,
            y0: 0.0,
            y1: 1.0,
        };
        let pieces = clip_polyline(&[(0.0, 0.5), (2.0, 2.5), (4.0, 0.5), (6.0, 0.5)], &r);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0], vec![(0.0, 0.5), (0.5, 1.0)]);
        assert_eq!(pieces[1], vec![(3.5, 1.0), (4.0, 0.5), (6.0, 0.5)]);
        let square = clip_polygon(&[(-1.0, -1.0), (11.0, -1.0), (11.0, 2.0), (-1.0, 2.0)], &r);
        assert!(square.iter().all(|&p| r.contains(p)));
        assert_eq!(square.len(), 4);
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(
            linear_ticks(-0.05, 1.05, 8).1,
            ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        );
        assert_eq!(
            linear_ticks(-3.0, 3.0, 8).1,
            ["-3", "-2", "-1", "0", "1", "2", "3"]
        );
        assert_eq!(
            linear_ticks(-7.0, 7.0, 8).1,
            ["-6", "-4", "-2", "0", "2", "4", "6"]
        );
        assert_eq!(
            linear_ticks(1000.0, 5000.0, 8).1,
            ["1000", "2000", "3000", "4000", "5000"]
        );
        assert_eq!(
            log_ticks(-4.2, 6.2, 8).1,
            ["1e-4", "0.01", "1", "100", "10000", "1e6"]
        );
        assert_eq!(log_ticks(0.2, 0.8, 8).1, ["2", "3", "4", "5", "6"]);
        assert_eq!(log_ticks(-0.3, 1.3, 8).1, ["1", "10"]);
        assert!(linear_ticks(1.0, 1.0, 8).0.is_empty());
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
}
