//! Translated `Message` texts. A client's `Accept-Language` (the PHP SDK's
//! `setLanguage('es_ES')` sends `es-ES;q=0.9, en;q=0.8, *;q=0.5`) picks the
//! language of the fixed messages integrations compare word for word; every
//! other message, and any language without a translation, stays English.

use axum::http::{header, HeaderMap};

/// The fixed messages, by language subtag. Spanish is the translation a
/// Comet Server is known to give (the PHP SDK's own tests check it).
const TRANSLATIONS: &[(&str, &[(&str, &str)])] = &[(
    "es",
    &[
        ("Unauthorised", "No autorizado"),
        ("User not found", "Usuario no encontrado"),
    ],
)];

/// The translations for the language the client prefers most among those
/// known (English included), or `None` for English.
pub fn preferred(headers: &HeaderMap) -> Option<&'static [(&'static str, &'static str)]> {
    let accept = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
    let mut ranges: Vec<(f32, &str)> = accept
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';');
            let tag = parts.next()?.trim();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!tag.is_empty() && quality > 0.0).then_some((quality, tag))
        })
        .collect();
    // Stable: among equal weights the client's order stands.
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, tag) in ranges {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or(tag)
            .to_ascii_lowercase();
        if primary == "en" || primary == "*" {
            return None;
        }
        if let Some((_, table)) = TRANSLATIONS.iter().find(|(lang, _)| *lang == primary) {
            return Some(table);
        }
    }
    None
}

/// `message` in the language of `table`, when it is one of the fixed ones.
pub fn translate(table: &[(&str, &'static str)], message: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(english, _)| *english == message)
        .map(|(_, translated)| *translated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(accept: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, accept.parse().unwrap());
        headers
    }

    #[test]
    fn the_most_wanted_known_language_wins() {
        let spanish = preferred(&with("es-ES;q=0.9, en;q=0.8, *;q=0.5")).unwrap();
        assert_eq!(translate(spanish, "Unauthorised"), Some("No autorizado"));
        assert_eq!(translate(spanish, "Missing required parameter 'X'"), None);
        assert!(preferred(&with("en-US;q=0.9, es;q=0.8")).is_none());
        assert!(
            preferred(&with("de-DE, es;q=0.5")).is_some(),
            "German unknown"
        );
        assert!(preferred(&with("es;q=0")).is_none());
        assert!(preferred(&HeaderMap::new()).is_none());
    }
}
