//! What files the coordinator keeps on tasks: a size limit (`FILES_MAX_BYTES`) and the content
//! types it takes (`FILES_ALLOWED_TYPES`, `image/*` style patterns). A file's type is what its
//! platform declared, else what its name says.

/// The limits files are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRules {
    pub max_bytes: u64,
    /// Content types (`application/pdf`) or families (`image/*`).
    pub allowed: Vec<String>,
}

/// The types taken when `FILES_ALLOWED_TYPES` is not set.
pub const DEFAULT_ALLOWED_TYPES: &str =
    "application/pdf,image/*,audio/*,video/*,text/plain,text/csv,text/markdown,\
application/zip,application/msword,application/vnd.ms-excel,application/vnd.ms-powerpoint,\
application/vnd.openxmlformats-officedocument.*,application/vnd.oasis.opendocument.*";

/// Content types by file name extension, for files whose platform declared none.
const BY_EXTENSION: &[(&str, &str)] = &[
    ("pdf", "application/pdf"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("txt", "text/plain"),
    ("csv", "text/csv"),
    ("md", "text/markdown"),
    ("zip", "application/zip"),
    ("doc", "application/msword"),
    ("xls", "application/vnd.ms-excel"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("mp4", "video/mp4"),
    ("mov", "video/quicktime"),
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("exe", "application/x-msdownload"),
];

impl FileRules {
    /// Reads the comma-separated `FILES_ALLOWED_TYPES`.
    pub fn new(max_bytes: u64, allowed: &str) -> Self {
        Self {
            max_bytes,
            allowed: allowed
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
        }
    }

    /// The content type of a file: the declared one (without parameters), else by its name;
    /// `application/octet-stream` when neither tells.
    pub fn content_type(declared: Option<&str>, name: &str) -> String {
        let declared = declared
            .map(|d| d.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty() && d != "application/octet-stream");
        declared.unwrap_or_else(|| {
            let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
            BY_EXTENSION
                .iter()
                .find(|(e, _)| Some(*e) == extension.as_deref())
                .map_or("application/octet-stream", |(_, t)| t)
                .to_owned()
        })
    }

    /// Whether `content_type` is taken.
    pub fn allows(&self, content_type: &str) -> bool {
        let content_type = content_type.to_ascii_lowercase();
        self.allowed
            .iter()
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => content_type.starts_with(prefix),
                None => *pattern == content_type,
            })
    }

    /// Checks a file's size and type; the error is the reply that says why it was refused.
    pub fn check(&self, name: &str, content_type: &str, size: u64) -> Result<(), String> {
        if size > self.max_bytes {
            return Err(format!(
                "{name} is too large ({}): I keep files up to {}. Nothing was stored.",
                size_text(size),
                size_text(self.max_bytes)
            ));
        }
        if !self.allows(content_type) {
            return Err(format!(
                "{name} is a kind of file I don't keep ({content_type}). I keep PDFs, images, audio, video, \
                 text and office documents. Nothing was stored."
            ));
        }
        Ok(())
    }
}

/// `20 bytes`, `4 KB` (rounded up), `20.0 MB`.
pub fn size_text(bytes: u64) -> String {
    match bytes {
        1 => "1 byte".into(),
        0..1024 => format!("{bytes} bytes"),
        1024..1_048_576 => format!("{} KB", bytes.div_ceil(1024)),
        _ => format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_sizes() {
        let rules = FileRules::new(1024, DEFAULT_ALLOWED_TYPES);
        assert!(rules.allows("image/png"));
        assert!(rules.allows("application/vnd.openxmlformats-officedocument.wordprocessingml.document"));
        assert!(!rules.allows("application/x-msdownload"));
        assert_eq!(
            FileRules::content_type(Some("application/pdf; name=a.pdf"), "a"),
            "application/pdf"
        );
        assert_eq!(FileRules::content_type(None, "Brief.PDF"), "application/pdf");
        assert_eq!(
            FileRules::content_type(Some("application/octet-stream"), "x.exe"),
            "application/x-msdownload"
        );
        assert_eq!(FileRules::content_type(None, "noext"), "application/octet-stream");
        assert!(rules.check("a.pdf", "application/pdf", 1024).is_ok());
        assert!(rules
            .check("a.pdf", "application/pdf", 1025)
            .unwrap_err()
            .contains("too large"));
        assert!(rules
            .check("x.exe", "application/x-msdownload", 10)
            .unwrap_err()
            .contains("don't keep"));
    }

    #[test]
    fn sizes_read_like_people_talk() {
        assert_eq!(size_text(1), "1 byte");
        assert_eq!(size_text(20), "20 bytes");
        assert_eq!(size_text(1023), "1023 bytes");
        assert_eq!(size_text(1024), "1 KB");
        assert_eq!(size_text(4097), "5 KB");
        assert_eq!(size_text(30 * 1024 * 1024), "30.0 MB");
    }
}
