"""Short labelled sentences in six topics: real text for probe and classification tests.

Six sentences per topic; tests that need fewer take a prefix (the CLI congruence tests use the
first five of three topics), so every test trains on the same words.
"""

from __future__ import annotations

TOPICS: dict[str, list[str]] = {
    "astronomy": [
        "The telescope revealed a distant spiral galaxy.",
        "Astronomers measured the orbit of the comet around the sun.",
        "The planet Mars has two small moons.",
        "A supernova exploded in a neighbouring galaxy.",
        "The night sky was full of bright stars and glowing nebulae.",
        "Saturn's rings are made of ice and rock orbiting the planet.",
    ],
    "cooking": [
        "Whisk the eggs with sugar until the mixture is fluffy.",
        "Simmer the tomato sauce for twenty minutes.",
        "Bake the bread in a hot oven until the crust is golden.",
        "Chop the onions and fry them slowly in butter.",
        "Season the soup with salt, pepper and fresh herbs.",
        "Knead the dough and let it rise for an hour before baking.",
    ],
    "football": [
        "The striker scored a goal in the final minute of the match.",
        "The goalkeeper dived and saved the penalty kick.",
        "The team won the league championship this season.",
        "The referee showed the defender a red card.",
        "Fans cheered as the midfielder dribbled past two players.",
        "The coach changed tactics at half time and the team equalised.",
    ],
    "programming": [
        "The function returns a list of integers sorted in place.",
        "Fix the null pointer exception in the parser module.",
        "Compile the code and run the unit tests before merging.",
        "The Python script reads a CSV file and prints each row.",
        "Refactor the Java class and rename the method in the source code.",
        "The compiler reported a syntax error on line twelve.",
    ],
    "finance": [
        "The central bank raised interest rates by half a percent.",
        "Shares of the company fell after the quarterly earnings report.",
        "Investors moved money from stocks into government bonds.",
        "Inflation reduced the purchasing power of household savings.",
        "The bank approved the mortgage loan at a fixed rate.",
        "The stock market index closed at a record high on Friday.",
    ],
    "gardening": [
        "Water the tomato plants early in the morning.",
        "Prune the rose bushes in late winter before new growth.",
        "Spread compost over the vegetable beds to enrich the soil.",
        "Plant the tulip bulbs in autumn, pointed end up.",
        "Pull the weeds from between the lettuce rows.",
        "Mulch around the shrubs to keep the soil moist.",
    ],
}
