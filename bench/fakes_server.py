"""The fake providers of the benchmark, each in its own process.

    python -m bench.fakes_server openai  --visuals 5 --latency 0.1 [--port N]
    python -m bench.fakes_server serpapi --latency 0.1 [--port N]

They are tests.fakes.FakeOpenAI / FakeSerpAPI (the real wire formats, so the
real `openai` and `google-search-results` clients are in the path), scripted
so that every answer comes after `--latency` seconds and the lesson
structure has exactly `--visuals` placeholders. Each source's text carries a
token (`bench-src-...`); the structure repeats it in its title, sections and
placeholder descriptions, so every later call of that source (the image
searches, the quiz, the flashcards) carries it too and the benchmark can
attribute provider calls to sources. Prints the base URL, then serves until
interrupted.
"""

import argparse
import re
import signal
import sys
import time

from tests.fakes import FakeOpenAI, FakeSerpAPI, delay, ok, respond, source_text

TOKEN = re.compile(r"bench-src-[0-9a-z-]+")


def lesson_structure(visuals: int):
    def answer(recorded) -> dict:
        text = source_text(recorded)
        match = TOKEN.search(text)
        token = match.group(0) if match else "bench-src-unknown"
        sections = [
            {
                "heading": f"Part {number + 1}",
                "content": (
                    f"Part {number + 1} of {token}: a paragraph of explanation with **key terms**.\n\n"
                    f"[VISUAL::Diagram {number + 1} of {token}]"
                ),
            }
            for number in range(visuals)
        ] or [{"heading": "Overview", "content": f"A lesson without pictures ({token})."}]
        return {
            "title": f"Bench lesson {token}",
            "structure": sections,
            "visualOpportunities": [
                {"description": f"Diagram {number + 1} of {token}", "searchQuery": f"diagram {number + 1}"}
                for number in range(visuals)
            ],
        }

    return answer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("service", choices=["openai", "serpapi"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--visuals", type=int, default=5, help="placeholders in the lesson structure")
    args = parser.parse_args(argv)

    def after_latency(behaviour: dict) -> dict:
        return delay(args.latency, then=behaviour) if args.latency > 0 else behaviour

    if args.service == "openai":
        fake = FakeOpenAI(port=args.port)
        fake.set_default("lesson_structure", after_latency(respond(lesson_structure(args.visuals))))
        fake.set_default("quiz", after_latency(ok()))
        fake.set_default("flashcards", after_latency(ok()))
    else:
        fake = FakeSerpAPI(port=args.port)
        fake.set_default("images", after_latency(ok()))
    fake.start()
    # Headers and body go out in two writes (http.server): without TCP_NODELAY,
    # Nagle's algorithm holds the body back until the client's delayed ACK
    # (tens of ms), which would pass for provider latency.
    fake._httpd.RequestHandlerClass.disable_nagle_algorithm = True
    print(fake.base_url, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        fake.stop()


if __name__ == "__main__":
    main()
