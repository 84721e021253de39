"""What the offline AI knows about each language.

Stop words, word frequencies in the language at large (wordfreq), a stemmer
(Snowball) to merge inflections, the words that glue a term together ("of",
"de"), the phrases that define a term ("X is ...", "called X"), and the
words of the quiz. The quiz speaks English, Spanish, French, German, Italian
and Portuguese; in any other language it uses a neutral format made of
quotation marks and arrows rather than mixing English in.

Stop words: the function words written out below for the six languages above
(short lists of articles, pronouns, prepositions, conjunctions and auxiliaries:
the packaged lists mix in content words such as "system" or "computer", which
must stay available as terms), plus, for every language, the words of the
``stop-words`` package's list that are also very common in the language.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

# wordfreq's "zipf" scale: 7 is "the", 3 a word met once per million words.
# A word of the packaged stop list this common is a function word; where the
# function words are written out below, only the most common listed words add
# to them (the lists hold content words like "system" in the 5-6 range).
_FUNCTION_WORD_ZIPF = 5.0
_CURATED_EXTRA_ZIPF = 6.2
# A word this common is too general to be a study term on its own ("people", "time").
GENERIC_ZIPF = 5.6
_FREQUENCY_FLOOR = 1e-8  # what wordfreq's rarest words have: an unknown word is at least this rare


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FUNCTION_WORDS = {
    "en": _words(
        """a an the this that these those some any each every no all both either neither
        i me my mine we us our ours you your yours he him his she her hers it its they them their theirs
        myself yourself himself herself itself ourselves yourselves themselves
        who whom whose which what where when why how whether if then than so as
        and or but nor yet because while although though unless until since once
        of in on at by for from to into onto with without within about above below over under
        between among through during before after against along across around behind beyond
        near off out up down upon via per like
        is are was were be been being am do does did doing done have has had having
        can could will would shall should may might must ought not
        also very just only even still too quite rather really here there now today
        such same other another more most much many few less least own
        one ones something anything everything nothing someone anyone everyone
        let lets okay ok yes oh well um uh yeah right alright""",
    ),
    "es": _words(
        """el la los las lo un una unos unas este esta estos estas ese esa esos esas aquel aquella
        aquellos aquellas esto eso aquello al del de a en con sin por para sobre entre hacia hasta
        desde durante ante bajo tras según contra mediante y e o u ni pero sino que como cuando donde
        porque pues si aunque mientras cual cuales quien quienes cuyo cuya cuanto cuanta muy más menos
        tan tanto ya también tampoco no sí se le les me te nos os mi mis tu tus su sus nuestro
        nuestra nuestros nuestras yo tú él ella ellos ellas nosotros usted ustedes es son era eran
        fue fueron ser sido siendo está están estaba estaban estar ha han había habían haber hay
        puede pueden poder debe deben tiene tienen tener hace hacen hacer otro otra otros otras
        todo toda todos todas cada algún alguno alguna algunos algunas ningún ninguna mismo misma
        mismos mismas así aquí allí ahora hoy entonces luego bien mal solo sólo cómo qué dónde
        cuándo vez veces casi incluso además""",
    ),
    "fr": _words(
        """le la les l un une des du de d au aux ce cet cette ces ceci cela ça celui celle ceux celles
        à en dans par pour sur sous avec sans entre vers chez contre depuis pendant avant après
        selon parmi et ou ni mais donc or car que qu qui quoi dont où comme quand si lorsque puisque
        ne n pas plus moins très trop aussi encore déjà bien mal tout toute tous toutes chaque autre
        autres même mêmes quel quelle quels quelles quelque quelques plusieurs aucun aucune
        je j tu il elle on nous vous ils elles me m te t se s lui leur leurs y mon ma mes ton ta tes
        son sa ses notre nos votre vos est sont était étaient être été sera seront a ont avait
        avaient avoir eu fait faire peut peuvent pouvoir doit doivent c ici là alors ainsi puis
        aujourd hui oui non voici voilà""",
    ),
    "de": _words(
        """der die das den dem des ein eine einen einem einer eines kein keine keinen keinem keiner
        dieser diese dieses diesen diesem jener jene jenes welcher welche welches und oder aber
        sondern denn doch dass daß ob wenn als wie weil obwohl während bis seit nachdem bevor damit
        in im ins an am auf aus bei mit nach von vom zu zum zur über unter vor hinter neben zwischen
        durch für gegen ohne um bis ab entlang trotz wegen statt ich du er sie es wir ihr man mich
        dich sich uns euch ihm ihn ihnen mein meine sein seine ihr ihre unser unsere euer eure
        ist sind war waren sein gewesen wird werden wurde wurden worden hat haben hatte hatten
        kann können konnte konnten muss müssen soll sollen darf dürfen will wollen mag nicht nur
        auch noch schon sehr so da dort hier dann nun jetzt immer oft etwa etwas alle alles jeder
        jede jedes viel viele mehr weniger andere anderen anderer anderes selbst wieder dabei
        dazu daher damit davon darauf darin""",
    ),
    "it": _words(
        """il lo la i gli le l un uno una un' questo questa questi queste quello quella quelli quelle
        di del dello della dei degli delle d a al allo alla ai agli alle da dal dallo dalla dai dagli
        dalle in nel nello nella nei negli nelle su sul sullo sulla sui sugli sulle con per tra fra
        e ed o od ma né che chi cui come quando dove perché se anche ancora già non più meno molto
        poco tanto troppo tutto tutta tutti tutte ogni altro altra altri altre stesso stessa
        io tu lui lei noi voi loro mi ti ci vi si ne mio mia miei mie tuo tua suo sua suoi sue
        nostro nostra è sono era erano essere stato stata fu hanno ha aveva avevano avere può
        possono deve devono fa fanno qui là ora oggi così poi""",
    ),
    "pt": _words(
        """o a os as um uma uns umas este esta estes estas esse essa esses essas aquele aquela isto
        isso aquilo de do da dos das em no na nos nas num numa por pelo pela pelos pelas para com
        sem sob sobre entre até desde durante contra ao aos à às e ou nem mas que como quando onde
        porque se embora enquanto qual quais quem cujo cuja muito muita muitos muitas mais menos
        tão também já não sim se lhe lhes me te nos vos meu minha seu sua seus suas nosso nossa
        eu tu ele ela eles elas nós você vocês é são era eram foi foram ser sido está estão estava
        estar há tem têm tinha ter pode podem deve devem faz fazem outro outra outros outras todo
        toda todos todas cada algum alguma alguns algumas mesmo mesma aqui ali agora hoje então
        assim depois""",
    ),
}

# Words that may stand inside a term ("speed of light", "células de memoria").
_CONNECTORS = {
    "en": _words("of"),
    "es": _words("de del"),
    "fr": _words("de du des à d"),
    "it": _words("di del della dei degli delle da"),
    "pt": _words("de do da dos das"),
}

# Words right before a verb ("to move", "it rises", "se mueve", "qui forme"):
# a word met mostly after one of these is a verb, not a term.
_VERB_MARKERS = {
    "en": _words(
        """to can could will would may might must should shall cannot it they we you i he she who
        which that not also often then does do did usually always never sometimes just"""
    ),
    "es": _words("se no lo le les que puede pueden debe deben suele suelen también nunca"),
    "fr": _words("se s ne n qui il ils elle elles on nous vous peut peuvent doit doivent"),
    "it": _words("si non che può possono deve devono ci"),
    "pt": _words("se não que pode podem deve devem"),
    "de": _words("zu"),
}

# Defining a term. "copulas" follow the term at the start of a sentence
# ("Evaporation is ..."), "naming" phrases come right before it ("called
# stomata"), "appositive" words follow "term," ("pigment, a molecule").
# Articles may stand before the term at the start of the sentence.


@dataclass(frozen=True)
class DefinitionWords:
    copulas: tuple[str, ...]
    naming: tuple[str, ...]
    appositive: tuple[str, ...]
    articles: tuple[str, ...]


_DEFINITION_WORDS = {
    "en": DefinitionWords(
        copulas=(
            "is",
            "are",
            "was",
            "were",
            "refers to",
            "refer to",
            "means",
            "describes",
            "is defined as",
            "consists of",
        ),
        naming=("called", "known as", "named", "termed", "defined as", "referred to as"),
        appositive=("which", "a", "an", "the", "that is"),
        articles=("the", "a", "an"),
    ),
    "es": DefinitionWords(
        copulas=("es", "son", "era", "eran", "se define como", "significa", "consiste en", "designa"),
        naming=(
            "llamado",
            "llamada",
            "llamados",
            "llamadas",
            "se llama",
            "se denomina",
            "denominado",
            "denominada",
            "conocido como",
            "conocida como",
            "conocidos como",
            "conocidas como",
        ),
        appositive=("que", "un", "una", "el", "la", "es decir"),
        articles=("el", "la", "los", "las", "un", "una"),
    ),
    "fr": DefinitionWords(
        copulas=("est", "sont", "était", "étaient", "désigne", "signifie", "se définit comme", "consiste en"),
        naming=(
            "appelé",
            "appelée",
            "appelés",
            "appelées",
            "qu'on appelle",
            "que l'on appelle",
            "s'appelle",
            "appellent",
            "nommé",
            "nommée",
        ),
        appositive=("qui", "un", "une", "c'est-à-dire"),
        articles=("le", "la", "les", "l'", "un", "une"),
    ),
    "de": DefinitionWords(
        copulas=("ist", "sind", "war", "waren", "bezeichnet", "bedeutet", "heißt", "umfasst"),
        naming=("genannt", "nennt man", "heißt", "bezeichnet man als", "spricht man von"),
        appositive=("der", "die", "das", "ein", "eine", "welche"),
        articles=("der", "die", "das", "ein", "eine"),
    ),
    "it": DefinitionWords(
        copulas=("è", "sono", "era", "erano", "indica", "significa", "si definisce", "consiste in"),
        naming=("chiamato", "chiamata", "chiamati", "chiamate", "detto", "detta", "noto come", "nota come"),
        appositive=("che", "un", "una", "uno", "cioè"),
        articles=("il", "lo", "la", "l'", "i", "gli", "le", "un", "una", "uno"),
    ),
    "pt": DefinitionWords(
        copulas=("é", "são", "era", "eram", "significa", "consiste em", "designa"),
        naming=(
            "chamado",
            "chamada",
            "chamados",
            "chamadas",
            "conhecido como",
            "conhecida como",
            "denominado",
            "denominada",
        ),
        appositive=("que", "um", "uma", "ou seja"),
        articles=("o", "a", "os", "as", "um", "uma"),
    ),
}
_NO_DEFINITION_WORDS = DefinitionWords((), (), (), ())


@dataclass(frozen=True)
class QuizWords:
    """The quiz's own words; ``{blank}``, ``{term}`` and ``{sentence}`` are filled in."""

    term_from_definition: str
    definition_from_term: str
    fill_in_the_blank: str
    explanation: str
    introduction: str  # the heading of the text before the first heading
    and_word: str  # joins the last two parts of a title


_QUIZ_WORDS = {
    "en": QuizWords(
        "Which term is defined here? \u201c{blank}\u201d",
        "Which statement describes \u201c{term}\u201d?",
        "Fill in the blank: \u201c{blank}\u201d",
        "The text says: \u201c{sentence}\u201d",
        "Introduction",
        "and",
    ),
    "es": QuizWords(
        "\u00bfQu\u00e9 t\u00e9rmino se define aqu\u00ed? \u00ab{blank}\u00bb",
        "\u00bfQu\u00e9 enunciado describe \u00ab{term}\u00bb?",
        "Completa el espacio en blanco: \u00ab{blank}\u00bb",
        "El texto dice: \u00ab{sentence}\u00bb",
        "Introducci\u00f3n",
        "y",
    ),
    "fr": QuizWords(
        "Quel terme est d\u00e9fini ici\u00a0? \u00ab\u00a0{blank}\u00a0\u00bb",
        "Quelle affirmation d\u00e9crit \u00ab\u00a0{term}\u00a0\u00bb\u00a0?",
        "Compl\u00e9tez la phrase\u00a0: \u00ab\u00a0{blank}\u00a0\u00bb",
        "Le texte dit\u00a0: \u00ab\u00a0{sentence}\u00a0\u00bb",
        "Introduction",
        "et",
    ),
    "de": QuizWords(
        "Welcher Begriff wird hier definiert? \u201e{blank}\u201c",
        "Welche Aussage beschreibt \u201e{term}\u201c?",
        "Erg\u00e4nzen Sie die L\u00fccke: \u201e{blank}\u201c",
        "Im Text steht: \u201e{sentence}\u201c",
        "Einleitung",
        "und",
    ),
    "it": QuizWords(
        "Quale termine \u00e8 definito qui? \u00ab{blank}\u00bb",
        "Quale affermazione descrive \u00ab{term}\u00bb?",
        "Completa lo spazio vuoto: \u00ab{blank}\u00bb",
        "Il testo dice: \u00ab{sentence}\u00bb",
        "Introduzione",
        "e",
    ),
    "pt": QuizWords(
        "Que termo \u00e9 definido aqui? \u201c{blank}\u201d",
        "Que afirma\u00e7\u00e3o descreve \u201c{term}\u201d?",
        "Preencha a lacuna: \u201c{blank}\u201d",
        "O texto diz: \u201c{sentence}\u201d",
        "Introdu\u00e7\u00e3o",
        "e",
    ),
}
# Any other language: quotation marks and arrows only, no English mixed in.
NEUTRAL_QUIZ_WORDS = QuizWords(
    "\u201c{blank}\u201d \u2192 ?",
    "\u201c{term}\u201d \u2192 ?",
    "\u201c{blank}\u201d",
    "\u201c{sentence}\u201d",
    "",
    "\u00b7",
)

_SNOWBALL_NAMES = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech", "da": "danish",
    "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian", "fi": "finnish",
    "fr": "french", "de": "german", "el": "greek", "hi": "hindi", "hu": "hungarian",
    "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian", "ne": "nepali",
    "nb": "norwegian", "no": "norwegian", "fa": "persian", "pl": "polish", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sr": "serbian", "st": "sesotho", "es": "spanish",
    "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip
_SPACELESS_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my"})


@lru_cache(maxsize=64)
def _listed_stop_words(language: str) -> frozenset[str]:
    from stop_words import LANGUAGE_MAPPING, get_stop_words

    if language not in LANGUAGE_MAPPING:
        return frozenset()
    return frozenset(word.casefold() for word in get_stop_words(language))


_thread_state = threading.local()


class Language:
    """The resources of one language (ISO 639-1 code; "" for unknown)."""

    def __init__(self, code: str) -> None:
        from wordfreq import available_languages

        self.code = code
        self.has_frequencies = code in available_languages()
        self.function_words = _FUNCTION_WORDS.get(code, frozenset())
        self.connectors = _CONNECTORS.get(code, frozenset())
        self.verb_markers = _VERB_MARKERS.get(code, frozenset())
        # German writes every noun with a capital: a term ends with one.
        self.capitalised_nouns = code == "de"
        self.definition_words = _DEFINITION_WORDS.get(code, _NO_DEFINITION_WORDS)
        # "called", "known": the words of definitions are never terms themselves.
        self.definition_vocabulary = frozenset(
            word.casefold()
            for phrase in (*self.definition_words.naming, *self.definition_words.copulas)
            for word in phrase.split()
        )
        self.quiz_words = _QUIZ_WORDS.get(code, NEUTRAL_QUIZ_WORDS)
        self.has_quiz_words = code in _QUIZ_WORDS
        self.spaceless = code in _SPACELESS_LANGUAGES
        self._stop_cache: dict[str, bool] = {}
        self._frequency_cache: dict[str, float] = {}
        self._stem_cache: dict[str, str] = {}
        snowball = _SNOWBALL_NAMES.get(code)
        self._snowball_name = snowball

    # -- stop words ------------------------------------------------------------------

    def is_stop_word(self, word: str) -> bool:
        lowered = word.casefold()
        known = self._stop_cache.get(lowered)
        if known is None:
            threshold = _CURATED_EXTRA_ZIPF if self.function_words else _FUNCTION_WORD_ZIPF
            listed = lowered in _listed_stop_words(self.code)
            known = lowered in self.function_words or (
                listed and (not self.has_frequencies or self.zipf(lowered) >= threshold)
            )
            if len(self._stop_cache) < 200_000:
                self._stop_cache[lowered] = known
        return known

    # -- frequencies -----------------------------------------------------------------

    def frequency(self, word: str) -> float:
        """How often the word occurs in the language at large (a share of all
        words); the floor when unknown or when the language has no figures."""
        lowered = word.casefold()
        known = self._frequency_cache.get(lowered)
        if known is None:
            known = _FREQUENCY_FLOOR
            if self.has_frequencies:
                from wordfreq import word_frequency

                known = max(word_frequency(lowered, self.code), _FREQUENCY_FLOOR)
            if len(self._frequency_cache) < 200_000:
                self._frequency_cache[lowered] = known
        return known

    def zipf(self, word: str) -> float:
        return math.log10(self.frequency(word)) + 9

    def is_generic(self, word: str) -> bool:
        """Too common to be a term on its own."""
        return self.has_frequencies and self.zipf(word) >= GENERIC_ZIPF

    # -- stems -------------------------------------------------------------------------

    def _stemmer(self):
        if self._snowball_name is None:
            return None
        stemmers = getattr(_thread_state, "stemmers", None)
        if stemmers is None:
            stemmers = _thread_state.stemmers = {}
        stemmer = stemmers.get(self._snowball_name)
        if stemmer is None:
            import snowballstemmer

            stemmer = stemmers[self._snowball_name] = snowballstemmer.stemmer(self._snowball_name)
        return stemmer

    def stem(self, word: str) -> str:
        """The word's stem, lower-case: inflections of one word share it."""
        lowered = word.casefold()
        known = self._stem_cache.get(lowered)
        if known is None:
            stemmer = self._stemmer()
            known = stemmer.stemWord(lowered) if stemmer is not None else _light_stem(lowered)
            if len(self._stem_cache) < 200_000:
                self._stem_cache[lowered] = known
        return known


def _light_stem(word: str) -> str:
    """A language-blind fallback: drop a plural-looking final "s"."""
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=64)
def language_resources(code: str) -> Language:
    return Language(code)


def definition_pattern_words(words: tuple[str, ...]) -> str:
    """An alternation of phrases, longest first, spaces matching any spacing."""
    ordered = sorted(set(words), key=lambda phrase: (-len(phrase), phrase))
    return "|".join(r"\s+".join(re.escape(part) for part in phrase.split()) for phrase in ordered)
