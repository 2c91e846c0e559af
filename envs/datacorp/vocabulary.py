"""The words DataCorp's generated records are made of: names, companies, products, notes, carriers and regions.

The ``hard`` variants (accents, apostrophes, nicknames) are what makes exports hard to parse by hand;
``pick`` draws from a tuple with a generator.
"""

from __future__ import annotations

import unicodedata

import numpy as np

# -- names and texts ---------------------------------------------------------------------

FIRST = (
    "Anna",
    "Ben",
    "Chloé",
    "Dmitri",
    "Élodie",
    "Farid",
    "Greta",
    "Hiroshi",
    "Inés",
    "Jonas",
    "Kateřina",
    "Lars",
    "María",
    "Noël",
    "Oğuz",
    "Paulina",
    "Quentin",
    "Rafał",
    "Siobhán",
    "Tomás",
    "Ursula",
    "Václav",
    "Wen",
    "Xavier",
    "Yusuf",
    "Zofia",
    "Björn",
    "Chiara",
    "Dagný",
    "Emeka",
    "Fatima",
    "Giulia",
    "Håkon",
    "Ingrid",
    "João",
    "Kwame",
    "Leïla",
    "Malte",
    "Nuno",
    "Olga",
    "Priya",
    "Ren",
    "Sven",
    "Thandiwe",
)
LAST = (
    "Müller",
    "Smith",
    "Nowak",
    "García",
    "Rossi",
    "Dubois",
    "Jensen",
    "Kowalski",
    "Novák",
    "O'Connor",
    "Silva",
    "Yamamoto",
    "Søndergaard",
    "Ólafsson",
    "Brontë",
    "Çelik",
    "Łukaszewicz",
    "Papadopoulos",
    "Nguyen",
    "Schäfer",
    "Andersson",
    "Fernández",
    "van der Berg",
    "Kim",
    "Okafor",
    "Ivanova",
    "Lefèvre",
    "Horváth",
    "Dvořák",
    "Zhang",
    "田中",
    "Kovačević",
    "Byrne",
    "Haddad",
)
COMPANIES = (
    "Nordlicht GmbH",
    "Acme Trading",
    "Sól Imports",
    "Fjord & Co",
    "Café Noir Ltd",
    "Kiwi Logistics",
    "Zürich Supply AG",
    "Blue Heron LLC",
    "Mäkelä Oy",
    "Delta Parts",
)
NICKS = ("Bo", "Jay", "Mack", "Lulu", "Kiki", "Tex", "Rocky", "Bean")
DOMAINS = ("example.com", "mail.test", "datacorp.example", "post.example.org", "inbox.test")
ADJECTIVES = (
    "Compact",
    "Deluxe",
    "Eco",
    "Smart",
    "Classic",
    "Ultra",
    "Mini",
    "Pro",
    "Rustic",
    "Nordic",
    "Crème",
    "Señor",
    "Zen",
    "Turbo",
    "Vintage",
    "Modular",
)
NOUNS: dict[str, tuple[str, ...]] = {
    "electronics": ("Headphones", "Charger", "Cable", "Speaker", "Monitor", "Keyboard", "Router", "Webcam"),
    "books": ("Cookbook", "Atlas", "Novel", "Guide", "Notebook", "Anthology", "Almanac"),
    "home": ("Lamp", "Kettle", "Blanket", "Vase", "Mug set", "Clock", "Rug"),
    "garden": ("Hose", "Planter", "Shears", "Birdhouse", "Seed kit", "Lantern"),
    "toys": ("Puzzle", "Robot", "Kite", "Board game", "Plush bear", "Train set"),
    "sports": ("Yoga mat", "Racket", "Bottle", "Helmet", "Dumbbell", "Jump rope"),
    "grocery": ("Coffee beans", "Tea tin", "Olive oil", "Chocolate", "Spice box", "Honey"),
    "apparel": ("Scarf", "Beanie", "Jacket", "Socks", "T-shirt", "Raincoat"),
}
NOTES = (
    "Customer called twice.",
    "Box arrived crushed.",
    "Refund approved by support.",
    "Goodwill gesture.",
    "Item returned in original packaging.",
    "Wrong colour shipped.",
    "Partial refund agreed.",
    "Courier lost the parcel.",
)
HARD_NOTES = (
    'Customer wrote: "never again" | escalated',
    "Box damaged.\nPhotos attached to ticket.",
    'Said the item was "like new"',
    "Refund | partial | agreed by phone",
    "#urgent: refund before Friday",
    "\\N",  # the two characters backslash-N, not a null
)
UNKNOWN_FIELDS = ("discount_code", "Email", "notes", "legacy_id", "source_system", "priority", "createdAt")
CARRIER_PREFIX = {"dhl": "DH", "ups": "UP", "fedex": "FX", "postnl": "PN", "royalmail": "RM"}
REGION_COUNTRY = {
    "na-east": "US",
    "na-west": "US",
    "eu-central": "DE",
    "eu-south": "IT",
    "uk": "GB",
    "ch": "CH",
    "apac": "SG",
}
REGION_CARRIERS = {
    "na-east": ("ups", "fedex"),
    "na-west": ("ups", "fedex"),
    "eu-central": ("dhl", "postnl", "ups"),
    "eu-south": ("dhl", "ups"),
    "uk": ("royalmail", "dhl"),
    "ch": ("dhl", "postnl"),
    "apac": ("fedex", "dhl"),
}
CARRIER_MEDIAN_H = {"dhl": 36.0, "ups": 30.0, "fedex": 24.0, "postnl": 48.0, "royalmail": 60.0}


def pick(rng: np.random.Generator, seq: tuple[str, ...] | list[str]) -> str:
    return str(seq[int(rng.integers(len(seq)))])


def ascii_slug(text: str) -> str:
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    out = "".join(ch if ch.isalnum() else "." for ch in norm)
    while ".." in out:
        out = out.replace("..", ".")
    return out.strip(".") or "user"


def customer_name(rng: np.random.Generator, hard_rate: float) -> str:
    first, last = pick(rng, FIRST), pick(rng, LAST)
    if rng.random() < 0.06:
        base = pick(rng, COMPANIES)
    else:
        base = f"{first} {last}"
    if rng.random() < hard_rate:
        kind = int(rng.integers(4))
        if kind == 0:
            return f'{first} "{pick(rng, NICKS)}" {last}'
        if kind == 1:
            return f"{last} | {pick(rng, COMPANIES)}"
        if kind == 2:
            return f"{first} {last}\nc/o {pick(rng, COMPANIES)}"
        return f"#{int(rng.integers(1, 100))} {pick(rng, COMPANIES)}"
    return base


def product_name(rng: np.random.Generator, category: str, hard_rate: float) -> str:
    name = f"{pick(rng, ADJECTIVES)} {pick(rng, NOUNS[category])}"
    if rng.random() < hard_rate:
        kind = int(rng.integers(3))
        if kind == 0:
            return f'{name} {int(rng.integers(2, 30))}" | {pick(rng, ("braided", "matte", "XL", "2-pack"))}'
        if kind == 1:
            return f'{name} "{pick(rng, ("Night Sky", "Aurora", "Señorita", "Blå"))}" edition'
        return f"{name}\n({int(rng.integers(2, 6))} pieces)"
    if rng.random() < 0.3:
        name += f" {pick(rng, ('S', 'M', 'L', 'XL', '500 g', '1 l', 'v2', 'Ø 20 cm'))}"
    return name
