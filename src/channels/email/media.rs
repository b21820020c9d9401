//! Email media in: the audio attachments of an inbound message, kept by [`super::Ingest`] in
//! the store (a mailbox cannot be asked for them again), handed to the voice transcription.

use crate::message::Attachment;
use crate::message::{Media, MediaError, MediaSource};
use crate::store::{Store, StoreError};

/// Reads kept attachments from the store.
pub struct EmailMedia {
    pub store: Store,
}

#[async_trait::async_trait]
impl MediaSource for EmailMedia {
    async fn fetch(&self, attachment: &Attachment, max_bytes: u64) -> Result<Media, MediaError> {
        if let Some(size) = attachment.size.filter(|size| *size > max_bytes) {
            return Err(MediaError::TooLarge(size));
        }
        let stored = match self.store.media(&attachment.platform_id).await {
            Ok(Some(stored)) => stored,
            Ok(None) => return Err(MediaError::Permanent("the attachment was not kept".into())),
            Err(StoreError::NotFound) => {
                return Err(MediaError::Permanent("the attachment was not kept".into()))
            }
            Err(e) => return Err(MediaError::Transient(e.to_string())),
        };
        if stored.bytes.len() as u64 > max_bytes {
            return Err(MediaError::TooLarge(stored.bytes.len() as u64));
        }
        Ok(Media {
            bytes: stored.bytes,
            mime_type: stored.mime_type,
            file_name: stored.file_name,
        })
    }
}
