"""Write a synthetic Disqus export for the import benchmark (``make bench-import``).

    .venv/bin/python -m bench.generate_disqus OUT.xml [--comments 1000000] [--per-thread 25]

Threads of ``--per-thread`` posts on average; about half the posts answer an earlier post
of their thread, one in fifty is deleted and one in a hundred is spam; bodies are short
HTML paragraphs with an occasional link, as real comments are. Written as a stream, so
any size fits in a few megabytes of memory. Deterministic for a given size.
"""
from __future__ import annotations

import argparse
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.sax.saxutils import escape

WORDS = ("the", "report", "council", "vote", "market", "why", "never", "agree", "source", "data", "city",
         "story", "policy", "thanks", "great", "question", "really", "article", "numbers", "school")


def generate(path: Path, comments: int, per_thread: int, seed: int = 14) -> None:
    rng = random.Random(seed)
    threads = max(1, comments // per_thread)
    start = datetime(2012, 1, 1, tzinfo=timezone.utc)
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?>\n<disqus xmlns="http://disqus.com"'
                  ' xmlns:dsq="http://disqus.com/disqus-internals">\n')
        for thread in range(threads):
            created = start + timedelta(hours=thread)
            out.write(f'<thread dsq:id="{thread + 1}"><id>story-{thread + 1}</id><forum>bench</forum>'
                      f'<link>https://news.example/{created:%Y/%m}/story-{thread + 1}/</link>'
                      f'<title>Story {thread + 1}</title><createdAt>{created:%Y-%m-%dT%H:%M:%SZ}</createdAt>'
                      '<isClosed>false</isClosed><isDeleted>false</isDeleted></thread>\n')
        posts_of: dict[int, list[int]] = {}
        for post in range(1, comments + 1):
            thread = rng.randrange(threads) + 1
            earlier = posts_of.setdefault(thread, [])
            parent = rng.choice(earlier[-20:]) if earlier and rng.random() < 0.5 else None
            earlier.append(post)
            if len(earlier) > 20:
                del earlier[0]
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
            if rng.random() < 0.1:
                words += " https://example.org/source"
            created = start + timedelta(hours=thread, minutes=post % 10_000)
            out.write(
                f'<post dsq:id="{1_000_000_000 + post}"><id/><message><![CDATA[<p>{escape(words)}</p>]]></message>'
                f'<createdAt>{created:%Y-%m-%dT%H:%M:%SZ}</createdAt>'
                f'<isDeleted>{str(rng.random() < 0.02).lower()}</isDeleted>'
                f'<isSpam>{str(rng.random() < 0.01).lower()}</isSpam>'
                f'<author><email>reader{post % 5000}@example.org</email><name>Reader {post % 5000}</name>'
                '<isAnonymous>false</isAnonymous></author><ipAddress>203.0.113.9</ipAddress>'
                f'<thread dsq:id="{thread}"/>'
                + (f'<parent dsq:id="{1_000_000_000 + parent}"/>' if parent else "")
                + "</post>\n"
            )
        out.write("</disqus>\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--per-thread", type=int, default=25)
    arguments = parser.parse_args()
    generate(arguments.output, arguments.comments, arguments.per_thread)


if __name__ == "__main__":
    main()
