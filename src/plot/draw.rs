//! One prepared panel drawn with plotters: a chart with caption and margins, its mesh
//! and axis labels (log-scaled coordinates on a log axis), bands, lines, `ErrorBar`s,
//! point markers and a series-label legend.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::data::float::pretty_print_float;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters_backend::{BackendCoord, DrawingErrorKind};

use super::prepare::{Marker, PanelData};
use super::{Scale, text_style};

const CAPTION_FONT: u32 = 18;
const AXIS_DESC_FONT: u32 = 15;
const LEGEND_FONT: u32 = 14;
const TICK_FONT: u32 = 13;

/// Pixels beside the y tick labels for the rotated axis description.
const Y_DESC_ROOM: u32 = 34;
/// Most labelled ticks on a linear axis.
const LINEAR_TICKS: usize = 8;
/// Most labelled ticks on a log axis. plotters adds the multiples 2–9 of a decade only
/// when ten fit, which an axis around a single power of ten needs to be readable; with
/// two powers of ten in a range under two decades it would list the upper one twice,
/// so such an axis asks for one fewer and shows just the two.
const LOG_TICKS: usize = 10;

const BAND_ALPHA: f64 = 0.22;
const LINE_WIDTH: u32 = 2;
const MARKER_SIZE: i32 = 4;
/// Width of an error bar's caps in pixels; plotters' `ErrorBar` also rings the point
/// with a circle of half this width, which this keeps within the markers.
const CAP_WIDTH: u32 = 8;
/// Legend layout in pixels: inner padding and the length of a sample glyph.
const LEGEND_PADDING: u32 = 8;
const LEGEND_GLYPH: i32 = 24;
/// The glyph and the gap after it: plotters' `legend_area_size`.
const LEGEND_GLYPH_AREA: u32 = LEGEND_GLYPH as u32 + 8;
/// plotters' inset of a legend from the plot frame, and its line spacing.
const LEGEND_INSET: f64 = 5.0;
const LEGEND_LINE_HEIGHT: f64 = 1.25;
/// Data this close (pixels) to a legend's box still counts as covered by it.
const LEGEND_CLEARANCE: f64 = 10.0;

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

impl PanelData<'_> {
    /// Draws the panel to fill `area`.
    pub(super) fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (lo, hi) = self.x;
        match self.panel.x_scale {
            Scale::Linear => self.draw_on(area, lo..hi, LINEAR_TICKS, linear_labels(self.x)),
            Scale::Log => {
                let powers_of_ten = (lo.log10().ceil() as i64..=hi.log10().floor() as i64).count();
                let ticks = if powers_of_ten >= 2 {
                    LOG_TICKS - 1
                } else {
                    LOG_TICKS
                };
                self.draw_on(area, (lo..hi).log_scale(), ticks, log_label)
            }
        }
    }

    fn draw_on<DB, X>(
        &self,
        area: &DrawingArea<DB, Shift>,
        x_spec: X,
        x_ticks: usize,
        x_label: impl Fn(&f64) -> String,
    ) -> DrawResult<DB>
    where
        DB: DrawingBackend,
        X: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
    {
        let y_label = linear_labels(self.y);
        let mut builder = ChartBuilder::on(area);
        builder
            .margin(12)
            .margin_right(22)
            .x_label_area_size(48)
            .y_label_area_size(self.y_label_area(area, &y_label)?);
        if !self.panel.title.is_empty() {
            builder.caption(&self.panel.title, text_style(CAPTION_FONT));
        }
        let mut chart = builder.build_cartesian_2d(x_spec, self.y.0..self.y.1)?;
        chart
            .configure_mesh()
            .x_labels(x_ticks)
            .y_labels(LINEAR_TICKS)
            .x_desc(self.panel.x_label.as_str())
            .y_desc(self.panel.y_label.as_str())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(text_style(TICK_FONT))
            .axis_desc_style(text_style(AXIS_DESC_FONT))
            .axis_style(BLACK.mix(0.8))
            .bold_line_style(BLACK.mix(0.1))
            .light_line_style(TRANSPARENT)
            .draw()?;

        // Bands first so every line, bar and marker stays on top of the shading.
        for s in &self.series {
            let fill = s.colour.mix(BAND_ALPHA).filled();
            chart.draw_series(
                s.bands
                    .iter()
                    .map(|outline| Polygon::new(outline.clone(), fill)),
            )?;
        }
        for s in &self.series {
            let stroke = s.colour.stroke_width(LINE_WIDTH);
            let lines = chart.draw_series(
                s.lines
                    .iter()
                    .map(|run| PathElement::new(run.clone(), stroke)),
            )?;
            if !s.name.is_empty() {
                let (colour, marker, band) = (s.colour, s.marker, !s.bands.is_empty());
                lines.label(s.name).legend(move |at| LegendGlyph {
                    at,
                    colour,
                    marker,
                    band,
                });
            }
        }
        for s in &self.series {
            let stroke = s.colour.stroke_width(1);
            chart.draw_series(
                s.errors
                    .iter()
                    .map(|e| ErrorBar::new_vertical(e.x, e.lo, e.y, e.hi, stroke, CAP_WIDTH)),
            )?;
            if let Some(marker) = s.marker {
                chart.draw_series(s.markers.iter().map(|&at| MarkerElement {
                    at,
                    marker,
                    colour: s.colour,
                }))?;
            }
        }

        if self.series.iter().any(|s| !s.name.is_empty()) {
            let position = self.legend_position(&chart.plotting_area().strip_coord_spec())?;
            chart
                .configure_series_labels()
                .position(position)
                .margin(LEGEND_PADDING)
                .legend_area_size(LEGEND_GLYPH_AREA)
                .label_font(text_style(LEGEND_FONT))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.35))
                .draw()?;
        }
        Ok(())
    }

    /// Room left of the plot for the widest y tick label and the rotated description.
    fn y_label_area<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        label: &impl Fn(&f64) -> String,
    ) -> Result<u32, DrawingAreaErrorKind<DB::ErrorType>> {
        let coord = RangedCoordf64::from(self.y.0..self.y.1);
        let font = text_style(TICK_FONT);
        let mut widest = 0;
        for tick in coord.key_points(LINEAR_TICKS) {
            widest = widest.max(area.estimate_text_size(&label(&tick), &font)?.0);
        }
        Ok(widest + Y_DESC_ROOM)
    }

    /// The corner of the plotting area `plot` whose legend would cover the least data,
    /// preferring upper right, upper left, lower right, lower left on ties.
    fn legend_position<DB: DrawingBackend>(
        &self,
        plot: &DrawingArea<DB, Shift>,
    ) -> Result<SeriesLabelPosition, DrawingAreaErrorKind<DB::ErrorType>> {
        let font = text_style(LEGEND_FONT);
        let mut text_width = 0;
        let mut rows = 0;
        for s in self.series.iter().filter(|s| !s.name.is_empty()) {
            text_width = text_width.max(plot.estimate_text_size(s.name, &font)?.0);
            rows += 1;
        }
        let padding = f64::from(2 * LEGEND_PADDING);
        let width = f64::from(text_width) + f64::from(LEGEND_GLYPH_AREA) + padding;
        let height = f64::from(rows) * f64::from(LEGEND_FONT) * LEGEND_LINE_HEIGHT + padding;
        let (plot_w, plot_h) = plot.dim_in_pixel();
        let reach = |size: f64, plot: u32| {
            (size + LEGEND_INSET + LEGEND_CLEARANCE) / f64::from(plot.max(1))
        };
        let (w, h) = (reach(width, plot_w), reach(height, plot_h));

        let occupied = self.occupied();
        let corners = [
            (true, true, SeriesLabelPosition::UpperRight),
            (false, true, SeriesLabelPosition::UpperLeft),
            (true, false, SeriesLabelPosition::LowerRight),
            (false, false, SeriesLabelPosition::LowerLeft),
        ];
        let covered = |right: bool, upper: bool| {
            occupied
                .iter()
                .filter(|&&(u, v)| {
                    (if right { u >= 1.0 - w } else { u <= w })
                        && (if upper { v >= 1.0 - h } else { v <= h })
                })
                .count()
        };
        // min_by_key keeps the first of equals, so the order above breaks ties.
        let (_, _, best) = corners
            .into_iter()
            .min_by_key(|&(right, upper, _)| covered(right, upper))
            .unwrap_or((true, true, SeriesLabelPosition::UpperRight));
        Ok(best)
    }
}

/// Labels for plotters' ticks on a linear axis over `range`, all with the decimals
/// the finest of them needs ("0.0", "0.5", "1.0" rather than "0", "0.5", "1").
fn linear_labels(range: (f64, f64)) -> impl Fn(&f64) -> String {
    let ticks = RangedCoordf64::from(range.0..range.1).key_points(LINEAR_TICKS);
    let decimals = ticks
        .iter()
        .map(|&t| {
            let label = pretty_print_float(t, false);
            label.find('.').map_or(0, |dot| label.len() - dot - 1)
        })
        .max()
        .unwrap_or(0);
    move |value: &f64| {
        let label = format!("{value:.decimals$}");
        // Rounding can leave "-0.00", which reads as a different number.
        match label.strip_prefix('-') {
            Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_owned(),
            _ => label,
        }
    }
}

/// A log axis tick: plain digits from 0.001 to 1000, "1e-4" / "1e4" beyond.
fn log_label(value: &f64) -> String {
    pretty_print_float(*value, true)
}

/// A point marker centred on one data point: plotters' `Circle`, `Rectangle`,
/// `TriangleMarker` or `Cross`, chosen per series. It is an element type of its own
/// because composing plotters' elements (`EmptyElement::at(..) + ..`) or boxing them
/// (`DynElement`) ties the result to the drawing backend, and plotters' legend and
/// series calls then want a `'static` backend, which the in-memory SVG string and
/// pixel buffer are not.
#[derive(Clone, Copy, Debug, PartialEq)]
struct MarkerElement<C> {
    at: C,
    marker: Marker,
    colour: RGBColor,
}

impl<'b, C> PointCollection<'b, C> for &'b MarkerElement<C> {
    type Point = &'b C;
    type IntoIter = std::iter::Once<&'b C>;

    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<C, DB: DrawingBackend> Drawable<DB> for MarkerElement<C> {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut points: I,
        backend: &mut DB,
        parent_dim: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some(c @ (x, y)) = points.next() else {
            return Ok(());
        };
        let r = MARKER_SIZE;
        let fill = self.colour.filled();
        let once = std::iter::once(c);
        match self.marker {
            Marker::Circle => Circle::new(c, r, fill).draw(once, backend, parent_dim),
            Marker::Square => {
                let corners = [(x - r, y - r), (x + r, y + r)];
                Rectangle::new(corners, fill).draw(corners.into_iter(), backend, parent_dim)
            }
            Marker::Triangle => TriangleMarker::new(c, r + 2, fill).draw(once, backend, parent_dim),
            Marker::Cross => {
                Cross::new(c, r, self.colour.stroke_width(2)).draw(once, backend, parent_dim)
            }
        }
    }
}

/// A legend entry's sample, drawn from the left end of its glyph area (the point
/// plotters' legend passes): a swatch of the band when the series has one, the line,
/// and its marker. Its own element type for the reason given at [`MarkerElement`].
#[derive(Clone, Copy, Debug, PartialEq)]
struct LegendGlyph {
    at: BackendCoord,
    colour: RGBColor,
    marker: Option<Marker>,
    band: bool,
}

impl<'b> PointCollection<'b, BackendCoord> for &'b LegendGlyph {
    type Point = &'b BackendCoord;
    type IntoIter = std::iter::Once<&'b BackendCoord>;

    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<DB: DrawingBackend> Drawable<DB> for LegendGlyph {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut points: I,
        backend: &mut DB,
        parent_dim: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some((x, y)) = points.next() else {
            return Ok(());
        };
        if self.band {
            let corners = [(x, y - 7), (x + LEGEND_GLYPH, y + 7)];
            Rectangle::new(corners, self.colour.mix(BAND_ALPHA).filled()).draw(
                corners.into_iter(),
                backend,
                parent_dim,
            )?;
        }
        let ends = vec![(x, y), (x + LEGEND_GLYPH, y)];
        PathElement::new(ends.clone(), self.colour.stroke_width(LINE_WIDTH)).draw(
            ends.into_iter(),
            backend,
            parent_dim,
        )?;
        if let Some(marker) = self.marker {
            let centre = (x + LEGEND_GLYPH / 2, y);
            MarkerElement {
                at: centre,
                marker,
                colour: self.colour,
            }
            .draw(std::iter::once(centre), backend, parent_dim)?;
        }
        Ok(())
    }
}
