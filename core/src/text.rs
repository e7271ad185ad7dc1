//! Text as people type it: folded for comparison, and made into URL parts.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Lower case without accents: "Não CONSIGO" → "nao consigo". Marks are removed after
/// canonical decomposition, so "ç" becomes "c" and "ñ" becomes "n".
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A readable, stable URL part: "¿Cómo pago una factura?" → "como-pago-una-factura";
/// "article" when nothing readable is left.
pub fn slugify(title: &str) -> String {
    let folded = fold(title);
    let mut slug = String::with_capacity(folded.len().min(80));
    for w in folded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if slug.len() + w.len() + 1 > 80 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(w);
    }
    if slug.is_empty() {
        slug.push_str("article");
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_readable_ascii_and_never_empty() {
        assert_eq!(fold("Não CONSIGO, señor"), "nao consigo, senor");
        assert_eq!(slugify("¿Cómo pago una factura?"), "como-pago-una-factura");
        assert_eq!(slugify("Impressão 日本 ok"), "impressao-ok");
        assert_eq!(slugify("!!!"), "article");
        assert!(slugify(&"palavra ".repeat(50)).len() <= 80);
    }
}
