//! QR codes of survey links, as SVG: a printed code at a till, on a receipt or on a parcel
//! opens the survey on a phone. The `qrcode` crate makes the module matrix; we draw it as one
//! path (a run of dark modules in a row is one rectangle) inside the four-module quiet zone
//! readers need, black on white whatever the page around it.
//!
//! - `GET /s/{token}/qr.svg`: the code of a personal link.
//! - `GET /s/{survey}/open/qr.svg?channel=…`: the code of a survey's anonymous link, with the
//!   query's attributes (checked as the link itself checks them).

use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;
use crate::links::LinkError;

/// Modules of white around the code (ISO/IEC 18004 asks for four).
const QUIET: usize = 4;

/// The SVG of the QR code of `text` (medium error correction: a code survives a smudge).
pub fn svg(text: &str) -> Result<String, String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
        .map_err(|e| format!("no QR code for this link: {e}"))?;
    let width = code.width();
    let dark: Vec<bool> = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    let size = width + 2 * QUIET;
    let mut path = String::new();
    for y in 0..width {
        let row = &dark[y * width..(y + 1) * width];
        let mut x = 0;
        while x < width {
            if !row[x] {
                x += 1;
                continue;
            }
            let start = x;
            while x < width && row[x] {
                x += 1;
            }
            let run = x - start;
            let _ = write!(path, "M{},{}h{run}v1h-{run}z", start + QUIET, y + QUIET);
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" \
         width=\"{px}\" height=\"{px}\" shape-rendering=\"crispEdges\" role=\"img\">\
         <title>QR code</title>\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>",
        px = size * 8
    ))
}

fn svg_response(text: &str) -> Response {
    match svg(text) {
        Ok(svg) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "private, max-age=3600"),
                (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
            ],
            svg,
        )
            .into_response(),
        Err(e) => ApiError::BadRequest(e).into_response(),
    }
}

/// `GET /s/{token}/qr.svg`: the code of a genuine, unexpired personal link.
pub async fn personal(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.signer.verify(&token, chrono::Utc::now().timestamp()) {
        Ok(_) => svg_response(&format!("{}/s/{token}", state.base_url())),
        Err(LinkError::Invalid) => ApiError::NotFound("no such survey link".into()).into_response(),
        Err(LinkError::Expired(_)) => (
            StatusCode::GONE,
            axum::Json(serde_json::json!({
                "error": "expired",
                "message": "this survey link has expired; make a new one"
            })),
        )
            .into_response(),
    }
}

/// `GET /s/{survey}/open/qr.svg`: the code of a survey's anonymous link with the query's
/// attributes (a channel, a store …) in the encoded address.
pub async fn anonymous(
    State(state): State<AppState>,
    Path(survey_id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let Some(survey) = state.survey(&survey_id) else {
        return ApiError::NotFound(format!(
            "no survey {survey_id:?}; the surveys are: {}",
            state.survey_ids().join(", ")
        ))
        .into_response();
    };
    let pairs = query.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let lang = query.iter().find(|(k, _)| k == "lang").map(|(_, v)| v);
    if lang.is_some_and(|l| !survey.languages.contains(l)) {
        return ApiError::BadRequest(format!(
            "survey {survey_id:?} is not offered in {:?} (it is in {})",
            lang.map_or("", |l| l.as_str()),
            survey.languages.join(", ")
        ))
        .into_response();
    }
    let Ok(attributes) = crate::pages::anonymous_attributes(&survey, pairs) else {
        return ApiError::BadRequest(format!(
            "an anonymous link carries lang, channel and the survey's declared attributes ({}), \
             each 1 to 100 characters",
            survey.config.attributes.join(", ")
        ))
        .into_response();
    };
    let mut url = format!("{}/s/{}/open", state.base_url(), survey.config.id);
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(l) = lang {
        query.append_pair("lang", l);
    }
    for (k, v) in &attributes {
        query.append_pair(k, v);
    }
    let query = query.finish();
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query);
    }
    svg_response(&url)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dark modules an SVG of [`svg`] draws, read back from its path (`M x,y h n v1 h-n z`).
    fn modules(svg: &str) -> (usize, Vec<bool>) {
        let size: usize = svg
            .split("viewBox=\"0 0 ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .unwrap()
            .parse()
            .unwrap();
        let d = svg
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let mut grid = vec![false; size * size];
        for cmd in d.split('z').filter(|c| !c.is_empty()) {
            let rest = cmd.strip_prefix('M').unwrap();
            let (xy, rest) = rest.split_once('h').unwrap();
            let (x, y) = xy.split_once(',').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            let run: usize = rest.split_once('v').unwrap().0.parse().unwrap();
            for i in 0..run {
                grid[y * size + x + i] = true;
            }
        }
        (size, grid)
    }

    /// Decodes an SVG of [`svg`] as a camera would: drawn at 6 pixels a module, then read.
    fn decode(svg: &str) -> String {
        let (size, grid) = modules(svg);
        let scale = 6;
        let mut img =
            rqrr::PreparedImage::prepare_from_greyscale(size * scale, size * scale, |x, y| {
                if grid[(y / scale) * size + x / scale] {
                    0
                } else {
                    255
                }
            });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one code in the image");
        grids[0].decode().expect("a readable code").1
    }

    #[test]
    fn a_code_reads_back_as_its_link() {
        for text in [
            "http://127.0.0.1:8080/s/checkout/open?channel=qr",
            // A personal link is a few hundred characters.
            &format!(
                "https://cx.example.com/s/{}.{}",
                "e".repeat(250),
                "x".repeat(43)
            ),
            "https://cx.example.com/s/nps/open?store=Zagreb+%C5%BEupa&lang=hr",
        ] {
            let svg = svg(text).unwrap();
            assert_eq!(decode(&svg), text);
            assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
            // The quiet zone is white all round.
            let (size, grid) = modules(&svg);
            for i in 0..size {
                for j in 0..QUIET {
                    assert!(!grid[j * size + i] && !grid[i * size + j]);
                    assert!(!grid[(size - 1 - j) * size + i] && !grid[i * size + size - 1 - j]);
                }
            }
        }
        // Longer than a QR code holds: a clear error, no panic.
        assert!(svg(&"x".repeat(5000)).unwrap_err().contains("no QR code"));
    }
}
