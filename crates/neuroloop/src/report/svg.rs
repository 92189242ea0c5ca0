//! A small SVG chart writer for the report's figures: panels with linear axes, ticks and labels, lines,
//! markers, bars, text and embedded PNG images. Text is left to the viewer's fonts (no font files or
//! metrics needed), and the output depends only on the data (no ids, no timestamps).

use std::fmt::Write;

use base64::Engine;

/// Colours of series, in order (Tableau 10).
pub const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// The colour of series `i` (the palette repeats).
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// The same colour as RGB bytes.
pub fn colour_rgb(i: usize) -> [u8; 3] {
    let hex = &colour(i)[1..];
    let byte = |k: usize| u8::from_str_radix(&hex[2 * k..2 * k + 2], 16).unwrap_or(0);
    [byte(0), byte(1), byte(2)]
}

/// Escapes `s` for XML text and attribute values.
pub fn esc(s: &str) -> String {
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

/// About `n` round tick values covering `[lo, hi]` (steps of 1, 2 or 5 times a power of ten).
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || n == 0 {
        return if lo.is_finite() { vec![lo] } else { Vec::new() };
    }
    let raw = (hi - lo) / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// A tick label: few digits, no `-0`.
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    let s = if a == 0.0 {
        "0".to_string()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// A data range widened to be non-empty and finite: `[lo, hi]` of the finite values of `vals`, with a
/// margin of `pad` of the span, or `[0, 1]` without values.
pub fn range_of(vals: impl IntoIterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let d = if lo.abs() > 1e-12 {
            lo.abs() * 0.1
        } else {
            1.0
        };
        return (lo - d, hi + d);
    }
    let m = (hi - lo) * pad;
    (lo - m, hi + m)
}

/// A plotting area: data ranges mapped onto a rectangle of the figure (pixels, y downwards).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Panel {
    /// Left edge, px.
    pub left: f64,
    /// Top edge, px.
    pub top: f64,
    /// Width, px.
    pub width: f64,
    /// Height, px.
    pub height: f64,
    /// Data range on x.
    pub x: (f64, f64),
    /// Data range on y.
    pub y: (f64, f64),
}

impl Panel {
    /// The pixel column of data value `x` (clamped to a little outside the panel).
    pub fn px(&self, x: f64) -> f64 {
        let f = (x - self.x.0) / (self.x.1 - self.x.0);
        self.left + f.clamp(-0.05, 1.05) * self.width
    }

    /// The pixel row of data value `y`.
    pub fn py(&self, y: f64) -> f64 {
        let f = (y - self.y.0) / (self.y.1 - self.y.0);
        self.top + (1.0 - f.clamp(-0.05, 1.05)) * self.height
    }
}

/// An SVG document being drawn.
#[derive(Debug)]
pub struct Svg {
    width: f64,
    height: f64,
    body: String,
}

impl Svg {
    /// An empty white figure of `width` x `height` px.
    pub fn new(width: f64, height: f64) -> Self {
        Svg {
            width,
            height,
            body: String::new(),
        }
    }

    /// Text at (`x`, `y`); `anchor` is `start`, `middle` or `end`.
    pub fn text(&mut self, x: f64, y: f64, s: &str, anchor: &str, size: f64) {
        let _ = writeln!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" font-size="{size}">{}</text>"#,
            esc(s)
        );
    }

    /// Text rotated by -90 degrees (read upwards), centred on (`x`, `y`).
    pub fn vtext(&mut self, x: f64, y: f64, s: &str, size: f64) {
        let _ = writeln!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle" font-size="{size}" transform="rotate(-90 {x:.1} {y:.1})">{}</text>"#,
            esc(s)
        );
    }

    /// A straight line.
    pub fn line(&mut self, a: (f64, f64), b: (f64, f64), stroke: &str, width: f64, dash: bool) {
        let dash = if dash {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        let _ = writeln!(
            self.body,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{stroke}" stroke-width="{width}"{dash}/>"#,
            a.0, a.1, b.0, b.1
        );
    }

    /// A rectangle.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, stroke: &str) {
        let _ = writeln!(
            self.body,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}" stroke="{stroke}"/>"#,
            w.max(0.0),
            h.max(0.0)
        );
    }

    /// A polyline through data points of `panel`; non-finite points break the line.
    pub fn series(&mut self, panel: &Panel, pts: &[(f64, f64)], stroke: &str, width: f64) {
        let mut d = String::new();
        let mut pen_down = false;
        for &(x, y) in pts {
            if !(x.is_finite() && y.is_finite()) {
                pen_down = false;
                continue;
            }
            let _ = write!(
                d,
                "{}{:.1} {:.1}",
                if pen_down { " L" } else { " M" },
                panel.px(x),
                panel.py(y)
            );
            pen_down = true;
        }
        if !d.is_empty() {
            let _ = writeln!(
                self.body,
                r#"<path d="{}" fill="none" stroke="{stroke}" stroke-width="{width}" stroke-linejoin="round"/>"#,
                d.trim_start()
            );
        }
    }

    /// Round markers at data points of `panel` (non-finite points skipped).
    pub fn dots(&mut self, panel: &Panel, pts: &[(f64, f64)], fill: &str, r: f64) {
        for &(x, y) in pts.iter().filter(|(x, y)| x.is_finite() && y.is_finite()) {
            let _ = writeln!(
                self.body,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{r}" fill="{fill}"/>"#,
                panel.px(x),
                panel.py(y)
            );
        }
    }

    /// A PNG image (its bytes, embedded as base64) stretched over the rectangle, pixels kept sharp.
    pub fn png(&mut self, x: f64, y: f64, w: f64, h: f64, png: &[u8]) {
        let _ = writeln!(
            self.body,
            r#"<image x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" preserveAspectRatio="none" style="image-rendering:pixelated" href="data:image/png;base64,{}"/>"#,
            base64::engine::general_purpose::STANDARD.encode(png)
        );
    }

    /// The frame, ticks, tick labels, axis labels and title of `panel`.
    pub fn axes(&mut self, panel: &Panel, xlabel: &str, ylabel: &str, title: &str) {
        let (l, t, w, h) = (panel.left, panel.top, panel.width, panel.height);
        for v in ticks(panel.y.0, panel.y.1, 5) {
            let y = panel.py(v);
            self.line((l - 4.0, y), (l, y), "#444", 1.0, false);
            self.line((l, y), (l + w, y), "#eee", 1.0, false);
            self.text(l - 6.0, y + 4.0, &tick_label(v), "end", 11.0);
        }
        if !ylabel.is_empty() {
            self.vtext(l - 42.0, t + h / 2.0, ylabel, 12.0);
        }
        self.x_axis(panel, xlabel, title);
    }

    /// The frame, the x axis (ticks, labels) and title of `panel`, without a y axis (for rows of
    /// labelled bars or a raster).
    pub fn x_axis(&mut self, panel: &Panel, xlabel: &str, title: &str) {
        let (l, t, w, h) = (panel.left, panel.top, panel.width, panel.height);
        self.rect(l, t, w, h, "none", "#444");
        for v in ticks(panel.x.0, panel.x.1, 6) {
            let x = panel.px(v);
            self.line((x, t + h), (x, t + h + 4.0), "#444", 1.0, false);
            self.text(x, t + h + 16.0, &tick_label(v), "middle", 11.0);
        }
        if !xlabel.is_empty() {
            self.text(l + w / 2.0, t + h + 32.0, xlabel, "middle", 12.0);
        }
        if !title.is_empty() {
            self.text(l + w / 2.0, t - 8.0, title, "middle", 13.0);
        }
    }

    /// A legend: one coloured swatch and label per entry, in a column starting at (`x`, `y`).
    pub fn legend(&mut self, x: f64, y: f64, entries: &[(String, String)]) {
        for (i, (label, colour)) in entries.iter().enumerate() {
            let yy = y + 16.0 * i as f64;
            self.rect(x, yy - 9.0, 12.0, 10.0, colour, "none");
            self.text(x + 16.0, yy, label, "start", 11.0);
        }
    }

    /// The finished document.
    pub fn finish(self) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n{}</svg>\n",
            self.body,
            w = self.width,
            h = self.height
        )
    }
}

/// Encodes an RGB image (`width` x `height`, 3 bytes a pixel, rows top to bottom) as PNG.
pub fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| e.to_string())?;
        w.write_image_data(rgb).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside() {
        assert_eq!(ticks(0.0, 10.0, 5), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(-1.3, 0.7, 4), [-1.0, -0.5, 0.0, 0.5]);
        assert_eq!(ticks(3.0, 3.0, 5), [3.0]);
        assert!(ticks(f64::NAN, 1.0, 5).is_empty());
        let t = ticks(0.0, 420_000.0, 6);
        assert!(t.len() >= 4 && t.len() <= 9, "{t:?}");
        assert_eq!(tick_label(-0.0), "0");
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(tick_label(1500.0), "1500");
    }

    #[test]
    fn ranges_are_never_empty() {
        assert_eq!(range_of([], 0.1), (0.0, 1.0));
        assert_eq!(range_of([f64::NAN, 2.0, 2.0], 0.0), (1.8, 2.2));
        assert_eq!(range_of([0.0, 10.0], 0.1), (-1.0, 11.0));
    }

    #[test]
    fn text_is_escaped_and_nan_breaks_lines() {
        let mut s = Svg::new(100.0, 50.0);
        let p = Panel {
            left: 10.0,
            top: 10.0,
            width: 80.0,
            height: 30.0,
            x: (0.0, 4.0),
            y: (0.0, 1.0),
        };
        s.text(0.0, 0.0, "a<b & \"c\"", "start", 10.0);
        s.series(
            &p,
            &[
                (0.0, 0.0),
                (1.0, 1.0),
                (2.0, f64::NAN),
                (3.0, 0.0),
                (4.0, 1.0),
            ],
            "#000",
            1.0,
        );
        let doc = s.finish();
        assert!(doc.contains("a&lt;b &amp; &quot;c&quot;"), "{doc}");
        assert!(
            doc.contains(r#"d="M10.0 40.0 L30.0 10.0 M70.0 40.0 L90.0 10.0""#),
            "{doc}"
        );
        assert!(doc.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(doc.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn png_round_trips() {
        let rgb: Vec<u8> = (0..2 * 3 * 3).map(|i| i as u8 * 10).collect();
        let bytes = encode_png(2, 3, &rgb).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let dec = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (2, 3));
        assert_eq!(&buf[..info.buffer_size()], &rgb[..]);
    }

    #[test]
    fn palette_colours_are_rgb() {
        assert_eq!(colour_rgb(0), [0x1f, 0x77, 0xb4]);
        assert_eq!(colour(10), colour(0));
    }
}
