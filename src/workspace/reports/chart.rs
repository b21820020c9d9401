//! The weekly report's chart: open and done tasks per day, drawn with plotters into an RGB
//! buffer and encoded as PNG. Text uses the DejaVu Sans font shipped in `assets/fonts`, so the
//! chart renders the same offline and on any machine.

use std::sync::Once;

use chrono::{DateTime, Utc};
use plotters::prelude::*;
use plotters::style::FontStyle;

const WIDTH: u32 = 800;
const HEIGHT: u32 = 450;
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            tracing::warn!("the chart font could not be loaded; charts will have no text");
        }
    });
}

/// A PNG of `series` (time, open, done so far) titled `title`.
pub fn render_chart(title: &str, series: &[(DateTime<Utc>, i64, i64)]) -> Result<Vec<u8>, String> {
    register_font();
    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    draw(&mut rgb, title, series).map_err(|e| format!("cannot draw the chart: {e}"))?;
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
    }
    Ok(png)
}

fn draw(
    rgb: &mut [u8],
    title: &str,
    series: &[(DateTime<Utc>, i64, i64)],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(rgb, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let days = series.len().max(2) as i32 - 1;
    let top = series
        .iter()
        .map(|(_, open, done)| (*open).max(*done))
        .max()
        .unwrap_or(0)
        .max(1)
        + 1;
    let labels: Vec<String> = series
        .iter()
        .map(|(at, _, _)| at.format("%a %-d").to_string())
        .collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0..days, 0..top)?;
    chart
        .configure_mesh()
        .x_labels(series.len().max(2))
        .x_label_formatter(&|x| labels.get(*x as usize).cloned().unwrap_or_default())
        .y_desc("tasks")
        .draw()?;
    let open = series
        .iter()
        .enumerate()
        .map(|(i, (_, open, _))| (i as i32, *open));
    chart
        .draw_series(LineSeries::new(open, RED.stroke_width(3)))?
        .label("open")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(3)));
    let done = series
        .iter()
        .enumerate()
        .map(|(i, (_, _, done))| (i as i32, *done));
    chart
        .draw_series(LineSeries::new(done, GREEN.stroke_width(3)))?
        .label("done")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN.stroke_width(3)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_is_a_png_of_the_expected_size() {
        let start: DateTime<Utc> = "2030-01-07T09:00:00Z".parse().unwrap();
        let series: Vec<_> = (0..8)
            .map(|d| (start + chrono::Duration::days(d), 10 - d, d))
            .collect();
        let png = render_chart("Week", &series).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (WIDTH, HEIGHT));
    }
}
