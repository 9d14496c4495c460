//! Line charts for experiment figures, drawn with plotters to SVG and PNG.
//!
//! A [`Figure`] is a title over one or more [`Panel`]s side by side; each panel holds
//! named [`Series`] drawn as lines with optional markers, ±error bars and shaded
//! bands. The drawing is plotters' own: its mesh and axis labels, log-scaled
//! coordinates for [`Scale::Log`], `ErrorBar` elements and series-label legends. This
//! module only prepares the data (skipping non-finite points, fitting the axes) and
//! picks styles. Text uses the DejaVu Sans font compiled into the binary (plotters'
//! `ab_glyph` text backend), so rendering never looks for system fonts. Nothing here
//! reads the clock, the environment or the filesystem: the same figure renders to the
//! same bytes.

mod draw;
mod prepare;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use prepare::PanelData;

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
    /// With a fixed range, lines are cut where they leave it, points outside it get no
    /// marker or error bar, and bands and error bars that cross it end at the frame.
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

/// Encodes the bitmap in memory: plotters' own PNG output goes through a file.
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
