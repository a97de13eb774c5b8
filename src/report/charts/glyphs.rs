//! Text for the charts, laid out here with `ab_glyph` from the embedded
//! font, so that a chart looks the same wherever it is opened.
//!
//! plotters 0.3.7's `ab_glyph` text path places each glyph at the pen
//! position without its left side bearing, so narrow letters collide
//! ("class" reads "dass"). [`GlyphText`] wraps a backend, passes every
//! shape through, and draws text itself: pen advance plus kerning, glyph
//! offset by its pixel bounds, baseline at the font's ascent. On a bitmap
//! it rasterises the glyphs; on SVG (with a [`GlyphSink`]) it writes each
//! glyph's outline once, in `<defs>`, and places it with `<use>` — the
//! text is drawn in the embedded font, not in whatever `sans-serif` the
//! viewer has, and each text keeps its words in an `aria-label`.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use plotters::style::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::OnceLock;

fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(ttf_noto_sans::REGULAR).ok())
        .as_ref()
}

/// Width, ascent and descent (positive, pixels) of `text` at `size` px.
fn measure(font: &FontRef<'_>, size: f64, text: &str) -> (f32, f32, f32) {
    let f = font.as_scaled(PxScale::from(size as f32));
    let mut width = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            width += f.kern(p, id);
        }
        width += f.h_advance(id);
        prev = Some(id);
    }
    (width, f.ascent(), -f.descent())
}

/// Each glyph of `text` and its pen position (pixels from the start):
/// advances plus kerning.
fn pens<F: Font, S: ScaleFont<F>>(scaled: &S, text: &str) -> Vec<(ab_glyph::GlyphId, f32)> {
    let mut out = Vec::with_capacity(text.len());
    let mut pen = 0.0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            pen += scaled.kern(p, id);
        }
        prev = Some(id);
        out.push((id, pen));
        pen += scaled.h_advance(id);
    }
    out
}

/// A drawing backend whose text is drawn by [`measure`]'s layout: as
/// pixels, or into `svg` as glyph outlines.
pub(super) struct GlyphText<B> {
    pub inner: B,
    pub svg: Option<Rc<RefCell<GlyphSink>>>,
}

/// SVG glyphs: each glyph's outline (font units, y up) once, and the
/// texts that place them.
#[derive(Debug, Default)]
pub(super) struct GlyphSink {
    defs: BTreeMap<u16, String>,
    texts: String,
}

impl GlyphSink {
    /// The `<defs>` and texts, to go just before `</svg>`.
    pub(super) fn markup(&self) -> String {
        let mut out = String::from("<defs>\n");
        for (id, d) in &self.defs {
            let _ = writeln!(out, "<path id=\"g{id}\" d=\"{d}\"/>");
        }
        out.push_str("</defs>\n");
        out.push_str(&self.texts);
        out
    }
}

/// An outline as SVG path data, in font units.
fn path_data(outline: &ab_glyph::Outline) -> String {
    use ab_glyph::OutlineCurve::{Cubic, Line, Quad};
    let mut d = String::new();
    let mut last: Option<ab_glyph::Point> = None;
    let p = |d: &mut String, q: ab_glyph::Point| {
        let _ = write!(d, "{} {} ", q.x.round(), q.y.round());
    };
    for curve in &outline.curves {
        let (start, end) = match curve {
            Line(a, b) => (*a, *b),
            Quad(a, _, c) => (*a, *c),
            Cubic(a, _, _, e) => (*a, *e),
        };
        if last != Some(start) {
            if last.is_some() {
                d.push_str("Z ");
            }
            d.push('M');
            p(&mut d, start);
        }
        match curve {
            Line(_, b) => {
                d.push('L');
                p(&mut d, *b);
            }
            Quad(_, b, c) => {
                d.push('Q');
                p(&mut d, *b);
                p(&mut d, *c);
            }
            Cubic(_, b, c, e) => {
                d.push('C');
                p(&mut d, *b);
                p(&mut d, *c);
                p(&mut d, *e);
            }
        }
        last = Some(end);
    }
    if last.is_some() {
        d.push('Z');
    }
    d.trim_end().to_string()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl<B: DrawingBackend> DrawingBackend for GlyphText<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        match font() {
            Some(f) => {
                let (w, a, d) = measure(f, style.size(), text);
                Ok((w.ceil() as u32, (a + d).ceil() as u32))
            }
            None => self.inner.estimate_text_size(text, style),
        }
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let Some(font) = font() else {
            return self.inner.draw_text(text, style, pos);
        };
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let (width, ascent, descent) = measure(font, style.size(), text);
        let height = ascent + descent;
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -height / 2.0,
            VPos::Bottom => -height,
        };
        let scaled = font.as_scaled(PxScale::from(style.size() as f32));
        let transform = style.transform();
        if let Some(sink) = &self.svg {
            if !matches!(transform, plotters_backend::FontTransform::None) {
                return self.inner.draw_text(text, style, pos);
            }
            let mut sink = sink.borrow_mut();
            let (hs, vs) = (scaled.h_scale_factor(), scaled.v_scale_factor());
            let fill = format!("#{:02x}{:02x}{:02x}", color.rgb.0, color.rgb.1, color.rgb.2);
            let opacity = if color.alpha < 1.0 {
                format!(" fill-opacity=\"{:.3}\"", color.alpha)
            } else {
                String::new()
            };
            let _ = write!(
                sink.texts,
                "<g aria-label=\"{}\" fill=\"{fill}\"{opacity}>",
                xml_escape(text)
            );
            let baseline = pos.1 as f32 + dy + ascent;
            for (id, x) in pens(&scaled, text) {
                let pen = pos.0 as f32 + dx + x;
                if let Some(outline) = font.outline(id)
                    && !outline.curves.is_empty()
                {
                    sink.defs.entry(id.0).or_insert_with(|| path_data(&outline));
                    let _ = write!(
                        sink.texts,
                        "<use href=\"#g{}\" transform=\"matrix({hs:.5} 0 0 {:.5} {pen:.2} {baseline:.2})\"/>",
                        id.0, -vs
                    );
                }
            }
            sink.texts.push_str("</g>\n");
            return Ok(());
        }
        let (w, h) = self.get_size();
        for (id, pen) in pens(&scaled, text) {
            let glyph =
                id.with_scale_and_position(scaled.scale(), ab_glyph::point(dx + pen, dy + ascent));
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            let mut pixels = Vec::new();
            outline.draw(|x, y, coverage| {
                let gx = bounds.min.x as i32 + x as i32;
                let gy = bounds.min.y as i32 + y as i32;
                pixels.push((gx, gy, coverage));
            });
            for (gx, gy, coverage) in pixels {
                if coverage <= 0.0 {
                    continue;
                }
                let (x, y) = transform.transform(gx, gy);
                let (x, y) = (pos.0 + x, pos.1 + y);
                if x >= 0 && y >= 0 && x < w as i32 && y < h as i32 {
                    let c = BackendColor {
                        alpha: color.alpha * f64::from(coverage.min(1.0)),
                        rgb: color.rgb,
                    };
                    self.inner.draw_pixel((x, y), c)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;

    /// Runs of consecutive columns with ink in a small drawing.
    fn ink_runs(draw: impl Fn(&mut [u8])) -> usize {
        let (w, h) = (80u32, 30u32);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        draw(&mut buf);
        let mut inked = vec![false; w as usize];
        for y in 0..h as usize {
            for (x, ink) in inked.iter_mut().enumerate() {
                let i = (y * w as usize + x) * 3;
                if buf[i] < 160 {
                    *ink = true;
                }
            }
        }
        inked.windows(2).filter(|p| p[1] && !p[0]).count() + usize::from(inked[0])
    }

    fn draw_with_glyph_text(buf: &mut [u8], text: &str) {
        super::super::register_fonts().unwrap();
        let root = GlyphText {
            inner: BitMapBackend::with_buffer(buf, (80, 30)),
            svg: None,
        }
        .into_drawing_area();
        root.draw(&Text::new(text, (4, 4), (super::super::FONT, 22)))
            .unwrap();
        root.present().unwrap();
    }

    #[test]
    fn letters_do_not_collide() {
        // "c", "l" and "a" are three separate shapes: three runs of ink.
        // (plotters' own ab_glyph text draws two: the l runs into the c.)
        let runs = ink_runs(|buf| draw_with_glyph_text(buf, "cla"));
        assert_eq!(runs, 3);
    }

    #[test]
    fn measures_with_the_font_metrics() {
        let f = font().expect("the embedded font loads");
        let (w, a, d) = measure(f, 18.0, "class");
        assert!(w > 25.0 && w < 40.0 && a > 10.0 && d > 2.0, "{w} {a} {d}");
        assert_eq!(measure(f, 18.0, "").0, 0.0);
    }
}
