//! Forms sent as `multipart/form-data` (the ones that carry files): their text fields and
//! their files, read within the body limit the router sets for them.

use std::collections::HashMap;

use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use axum::http::StatusCode;

use crate::desk::requests::Upload;

/// A multipart form as sent: text fields by name (the last of a name wins) and files.
#[derive(Debug, Default)]
pub struct Sent {
    fields: HashMap<String, String>,
    /// The files chosen (an empty file input, which browsers send as a nameless empty
    /// part, is none).
    pub files: Vec<Upload>,
}

impl Sent {
    /// The text field `name`, empty when absent.
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

/// Why a multipart form could not be read.
#[derive(Debug)]
pub enum Unreadable {
    /// It is larger than the portal takes.
    TooLarge,
    /// It is not a well-formed multipart form.
    Malformed(MultipartError),
}

/// Reads every part of `multipart`: parts with a file name are files, the others text.
pub async fn read(mut multipart: Multipart) -> Result<Sent, Unreadable> {
    let mut sent = Sent::default();
    let fail = |e: MultipartError| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Unreadable::TooLarge,
        _ => Unreadable::Malformed(e),
    };
    while let Some(field) = multipart.next_field().await.map_err(fail)? {
        let name = field.name().unwrap_or_default().to_string();
        match field.file_name().map(str::to_string) {
            Some(filename) => {
                let content_type = field.content_type().unwrap_or_default().to_string();
                let bytes = field.bytes().await.map_err(fail)?;
                if filename.is_empty() && bytes.is_empty() {
                    continue; // a file input left empty
                }
                sent.files.push(Upload { filename, content_type, bytes: bytes.to_vec() });
            }
            None => {
                let text = field.text().await.map_err(fail)?;
                sent.fields.insert(name, text);
            }
        }
    }
    Ok(sent)
}

/// The largest form body the portal reads: every file at its largest, and room for the
/// text fields.
pub fn body_limit(app: &crate::App) -> usize {
    let config = app.config();
    let files = config.attachment_max_bytes().saturating_mul(u64::from(config.portal.attachments_max.max(1)));
    usize::try_from(files.saturating_add(1024 * 1024)).unwrap_or(usize::MAX)
}
