//! A request's files (MISSION P7, P8): served only to those who may see the request, and
//! only files of its public conversation. A download is always a download
//! (`Content-Disposition: attachment`, `application/octet-stream`, nosniff), whatever the
//! sender said it was; a preview is served only when the bytes are a raster image.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::pages;
use super::visitor::Customer;
use crate::App;
use crate::desk::requests;
use crate::desk::tickets::CustomerFile;
use crate::domain::TicketNumber;

/// `GET /requests/N/files/ID`: the file, as a download.
pub async fn download(
    State(app): State<Arc<App>>,
    visitor: Customer,
    Path((number, id)): Path<(String, String)>,
) -> Response {
    match fetch(&app, &visitor, &number, &id).await {
        Ok((file, bytes)) => attachment(&file.filename, bytes),
        Err(page) => page,
    }
}

/// `GET /requests/N/files/ID/preview`: the file shown as an image, only when its bytes are
/// a raster image (PNG, JPEG, GIF, WebP); 404 otherwise.
pub async fn preview(
    State(app): State<Arc<App>>,
    visitor: Customer,
    Path((number, id)): Path<(String, String)>,
) -> Response {
    match fetch(&app, &visitor, &number, &id).await {
        Ok((_, bytes)) => match requests::raster_type(&bytes) {
            Some(image) => inline_image(image, bytes),
            None => pages::not_found(&app, &visitor),
        },
        Err(page) => page,
    }
}

/// The file `id` of request `number` (both as in the URL), if the visitor may fetch it;
/// else the page that says why (404, or 500 when the store failed).
async fn fetch(app: &App, visitor: &Customer, number: &str, id: &str) -> Result<(CustomerFile, Vec<u8>), Response> {
    let (Ok(number), Ok(id)) = (number.parse::<i64>(), id.parse::<i64>()) else {
        return Err(pages::not_found(app, visitor));
    };
    match requests::file(app, visitor.who(), TicketNumber(number), id).await {
        Ok(Some(file)) => Ok(file),
        Ok(None) => Err(pages::not_found(app, visitor)),
        Err(e) => Err(pages::failure(app, &e)),
    }
}

/// `bytes` as a download named `filename`: never shown by the browser, whatever they are.
pub(super) fn attachment(filename: &str, bytes: Vec<u8>) -> Response {
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static("application/octet-stream")),
        (CONTENT_DISPOSITION, disposition(filename)),
        (CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox")),
        (CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
    ];
    (headers, bytes).into_response()
}

/// `bytes`, which are the raster image `image` (as [`requests::raster_type`] found), shown
/// inline.
pub(super) fn inline_image(image: &'static str, bytes: Vec<u8>) -> Response {
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static(image)),
        (CONTENT_DISPOSITION, HeaderValue::from_static("inline")),
        (CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox")),
        (CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600")),
    ];
    (headers, bytes).into_response()
}

/// `attachment` with the file's name (RFC 6266): a plain ASCII fallback, and the name
/// itself percent-encoded as UTF-8.
fn disposition(filename: &str) -> HeaderValue {
    let fallback: String = filename
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') { c } else { '_' })
        .collect();
    let encoded = utf8_percent_encode(filename, NON_ALPHANUMERIC);
    let value = format!("attachment; filename=\"{}\"; filename*=UTF-8''{encoded}", fallback.trim());
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}
