//! `[websub]`: the hub rafid's feeds advertise.

use url::Url;

use super::Validator;
use crate::config::WebsubConfig;
use crate::config::raw::RawWebsub;

impl Validator<'_> {
    pub(super) fn websub(&mut self, raw: &RawWebsub) -> WebsubConfig {
        let websub_hub = match &raw.hub {
            None => None,
            Some(v) => match Url::parse(v.get_ref()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
                _ => {
                    self.error(
                        v.span(),
                        format!(
                            "websub.hub: {:?} is not an http(s) URL; write e.g. \"https://pubsubhubbub.appspot.com/\"",
                            v.get_ref()
                        ),
                    );
                    None
                }
            },
        };
        WebsubConfig { hub: websub_hub }
    }
}
