//! The audio formats the transcription endpoint takes (OpenAI lists flac, m4a, mp3, mp4, mpeg,
//! mpga, oga, ogg, wav and webm), recognized by MIME type or, when that says nothing, by file
//! name. The format decides the file name the audio is uploaded under: the endpoint goes by its
//! extension.

/// A format the transcription endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFormat {
    /// Ogg (Opus or Vorbis): Telegram and WhatsApp voice notes.
    Ogg,
    Mp3,
    M4a,
    Mp4,
    Wav,
    Webm,
    Flac,
}

/// For messages that refuse a format.
pub const SUPPORTED: &str = "ogg/opus, mp3, m4a, mp4, wav, webm or flac";

/// MIME types that say nothing about the content: the file name decides then.
const GENERIC: [&str; 3] = [
    "application/octet-stream",
    "binary/octet-stream",
    "application/unknown",
];

impl AudioFormat {
    /// By MIME type (parameters such as `; codecs=opus` ignored); `None` when it is not one we take.
    pub fn from_mime(mime: &str) -> Option<Self> {
        let essence = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        Some(match essence.as_str() {
            "audio/ogg" | "audio/opus" | "application/ogg" | "audio/vorbis" | "audio/x-opus+ogg" => Self::Ogg,
            "audio/mpeg" | "audio/mp3" | "audio/mpeg3" | "audio/x-mpeg-3" | "audio/mpga" => Self::Mp3,
            "audio/mp4" | "audio/m4a" | "audio/x-m4a" | "audio/mp4a-latm" => Self::M4a,
            "video/mp4" => Self::Mp4,
            "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => Self::Wav,
            "audio/webm" | "video/webm" => Self::Webm,
            "audio/flac" | "audio/x-flac" => Self::Flac,
            _ => return None,
        })
    }

    /// By the file name's extension.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let (_, extension) = name.rsplit_once('.')?;
        Some(match extension.to_ascii_lowercase().as_str() {
            "ogg" | "oga" | "opus" => Self::Ogg,
            "mp3" | "mpga" | "mpeg" => Self::Mp3,
            "m4a" => Self::M4a,
            "mp4" => Self::Mp4,
            "wav" => Self::Wav,
            "webm" => Self::Webm,
            "flac" => Self::Flac,
            _ => return None,
        })
    }

    /// Whether `mime` says nothing about the content (empty, or `application/octet-stream`).
    pub fn is_generic(mime: &str) -> bool {
        let essence = mime.split(';').next().unwrap_or("").trim();
        essence.is_empty() || GENERIC.iter().any(|g| essence.eq_ignore_ascii_case(g))
    }

    /// The format of a file with this MIME type and name: the MIME type decides unless it is
    /// missing or generic. `Err` names what was seen, for the refusal.
    pub fn detect(mime: Option<&str>, file_name: Option<&str>) -> Result<Self, String> {
        let mime = mime.map(str::trim).filter(|m| !m.is_empty());
        if let Some(m) = mime.filter(|m| !Self::is_generic(m)) {
            return Self::from_mime(m).ok_or_else(|| m.to_owned());
        }
        if let Some(format) = file_name.and_then(Self::from_file_name) {
            return Ok(format);
        }
        Err(match (mime, file_name) {
            (_, Some(name)) if !name.is_empty() => format!("the file {name}"),
            (Some(m), _) => m.to_owned(),
            _ => "a file of unknown type".to_owned(),
        })
    }

    /// The extension the audio is uploaded under.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Ogg => "ogg",
            Self::Mp3 => "mp3",
            Self::M4a => "m4a",
            Self::Mp4 => "mp4",
            Self::Wav => "wav",
            Self::Webm => "webm",
            Self::Flac => "flac",
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Ogg => "audio/ogg",
            Self::Mp3 => "audio/mpeg",
            Self::M4a => "audio/mp4",
            Self::Mp4 => "video/mp4",
            Self::Wav => "audio/wav",
            Self::Webm => "audio/webm",
            Self::Flac => "audio/flac",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AudioFormat;

    #[test]
    fn platforms_formats_are_recognized() {
        assert_eq!(
            AudioFormat::from_mime("audio/ogg; codecs=opus"),
            Some(AudioFormat::Ogg)
        );
        assert_eq!(AudioFormat::from_mime("Audio/MPEG"), Some(AudioFormat::Mp3));
        assert_eq!(AudioFormat::from_mime("audio/amr"), None);
        assert_eq!(AudioFormat::from_mime("audio/aac"), None);
        assert_eq!(
            AudioFormat::from_file_name("voice/file_1.oga"),
            Some(AudioFormat::Ogg)
        );
        assert_eq!(AudioFormat::from_file_name("memo.M4A"), Some(AudioFormat::M4a));
        assert_eq!(AudioFormat::from_file_name("notes.txt"), None);
    }

    #[test]
    fn the_mime_type_decides_unless_it_is_generic() {
        assert_eq!(
            AudioFormat::detect(Some("audio/wav"), Some("x.mp3")),
            Ok(AudioFormat::Wav)
        );
        assert_eq!(
            AudioFormat::detect(Some("application/octet-stream"), Some("x.mp3")),
            Ok(AudioFormat::Mp3)
        );
        assert_eq!(AudioFormat::detect(None, Some("x.flac")), Ok(AudioFormat::Flac));
        assert_eq!(
            AudioFormat::detect(Some("audio/amr"), Some("x.ogg")),
            Err("audio/amr".to_owned())
        );
        assert_eq!(
            AudioFormat::detect(Some("application/octet-stream"), Some("x.doc")),
            Err("the file x.doc".to_owned())
        );
        assert!(AudioFormat::detect(None, None).is_err());
    }
}
