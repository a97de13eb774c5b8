//! Charts of runs and sweeps, drawn from the CSV outputs (a pure function
//! of their text, so `surge chart DIR` redraws them without re-running).
//!
//! Text uses Noto Sans, embedded in the binary (the `ttf-noto-sans`
//! crate) and registered with plotters' `ab_glyph` backend: no system
//! fonts are needed.
//!
//! Every panel is drawn on linear coordinates; a log axis is drawn as the
//! log10 of the values with ticks placed and labelled here (1-2-5 per
//! decade), so that tick labels are always readable numbers.

mod axis;
mod glyphs;
mod panel;
mod plan;
mod run;
mod sweep;

use axis::*;
pub(crate) use axis::{seconds_label, tick_label};
use glyphs::GlyphText;
use panel::*;
pub use plan::{PlanSlo, plan_charts};
pub use run::run_charts;
pub use sweep::sweep_charts;

use super::write_atomic;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// Image format of the charts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartFormat {
    /// PNG, 1200 × 800.
    Png,
    /// SVG, 1200 × 800.
    Svg,
}

impl ChartFormat {
    /// The file extension (`png` or `svg`).
    pub fn extension(self) -> &'static str {
        match self {
            ChartFormat::Png => "png",
            ChartFormat::Svg => "svg",
        }
    }
}

const SIZE: (u32, u32) = (1200, 800);
const FONT: &str = "sans-serif";

fn register_fonts() -> Result<(), String> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        // Every style falls back to the regular face (the crate's default
        // features ship only Noto Sans Regular).
        for style in [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ] {
            if plotters::style::register_font(FONT, style, ttf_noto_sans::REGULAR).is_err() {
                result = Err("the embedded font could not be loaded".to_string());
            }
        }
    });
    result
}

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const PURPLE: RGBColor = RGBColor(148, 103, 189);
const GREY: RGBColor = RGBColor(110, 110, 110);

/// Colours of the lines of a sweep chart, in order (tab10).
const PALETTE: [RGBColor; 10] = [
    BLUE,
    ORANGE,
    GREEN,
    RED,
    PURPLE,
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    GREY,
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

type Area<DB> = DrawingArea<DB, Shift>;
type Coords = Cartesian2d<Ticked, Ticked>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Something drawable on any plotters backend.
trait Chart {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String>;
}

/// Draw `chart` in `format` and return the file's bytes.
fn render<C: Chart>(chart: &C, format: ChartFormat) -> Result<Vec<u8>, String> {
    Ok(match format {
        ChartFormat::Svg => {
            let mut text = String::new();
            let sink = std::rc::Rc::new(std::cell::RefCell::new(glyphs::GlyphSink::default()));
            {
                let root = GlyphText {
                    inner: SVGBackend::with_string(&mut text, SIZE),
                    svg: Some(sink.clone()),
                }
                .into_drawing_area();
                root.fill(&WHITE).map_err(err)?;
                chart.draw(&root)?;
                root.present().map_err(err)?;
            }
            // The text, as outlines of the embedded font, over everything.
            let end = text
                .rfind("</svg>")
                .ok_or("the SVG backend wrote no </svg>")?;
            text.insert_str(end, &sink.borrow().markup());
            text.into_bytes()
        }
        ChartFormat::Png => {
            let mut buf = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            {
                let root = GlyphText {
                    inner: BitMapBackend::with_buffer(&mut buf, SIZE),
                    svg: None,
                }
                .into_drawing_area();
                root.fill(&WHITE).map_err(err)?;
                chart.draw(&root)?;
                root.present().map_err(err)?;
            }
            let img = image::RgbImage::from_raw(SIZE.0, SIZE.1, buf).ok_or("bad image buffer")?;
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageOutputFormat::Png)
                .map_err(err)?;
            out.into_inner()
        }
    })
}

/// A chart written: its file name under `charts/`, and its bytes (for the
/// report, without reading the file back).
pub type ChartFile = (String, Vec<u8>);

/// Draw `chart` and write it atomically to `dir/<stem>.<ext>`.
fn save<C: Chart>(
    chart: &C,
    dir: &Path,
    stem: &str,
    format: ChartFormat,
) -> Result<ChartFile, String> {
    let bytes = render(chart, format)?;
    let name = format!("{stem}.{}", format.extension());
    let path = dir.join(&name);
    write_atomic(&path, &bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((name, bytes))
}

/// Create the charts folder and make the font available.
fn prepare(dir: &Path) -> Result<(), String> {
    register_fonts()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// File-name-safe version of a name.
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
