// CHAIR's object vocabulary for MS-COCO, as data.
//
// Source: the synonym list of the CHAIR paper (Rohrbach et al., "Object Hallucination in Image
// Captioning", EMNLP 2018), published as data/synonyms.txt in LisaAnne/Hallucination and embedded
// verbatim as `synonyms_txt` in the chair.py that LURE, OPERA and HA-DPO evaluate with; and the
// hard-coded "double word" rules of that chair.py (`coco_double_words`, `animal_words`,
// `vehicle_words`). Transcribed faithfully, oddities included: repeated entries ("scooter",
// "lamb", "toilet" twice in their lines), misspellings that models do write ("televison",
// "solider", "phon"), "orange" as a fruit (so "an orange cat" mentions an orange), "knive" (what
// pattern.en's singularize makes of "knives"). One line per COCO category, the category name
// first, entries separated by ", ".
//
// Not data here: chair.py's "wine glas" -> "wine glass" rule only repairs pattern.en's
// singular of "glass"; this project's singularizer keeps "glass" (src/eval/text.ts).

export const COCO_SYNONYMS_TEXT = `
person, girl, boy, man, woman, kid, child, chef, baker, people, adult, rider, children, baby, worker, passenger, sister, biker, policeman, cop, officer, lady, cowboy, bride, groom, male, female, guy, traveler, mother, father, gentleman, pitcher, player, skier, snowboarder, skater, skateboarder, person, woman, guy, foreigner, child, gentleman, caller, offender, coworker, trespasser, patient, politician, soldier, grandchild, serviceman, walker, drinker, doctor, bicyclist, thief, buyer, teenager, student, camper, driver, solider, hunter, shopper, villager
bicycle, bike, bicycle, bike, unicycle, minibike, trike
car, automobile, van, minivan, sedan, suv, hatchback, cab, jeep, coupe, taxicab, limo, taxi
motorcycle, scooter, motor bike, motor cycle, motorbike, scooter, moped
airplane, jetliner, plane, air plane, monoplane, aircraft, jet, jetliner, airbus, biplane, seaplane
bus, minibus, trolley
train, locomotive, tramway, caboose
truck, pickup, lorry, hauler, firetruck
boat, ship, liner, sailboat, motorboat, dinghy, powerboat, speedboat, canoe, skiff, yacht, kayak, catamaran, pontoon, houseboat, vessel, rowboat, trawler, ferryboat, watercraft, tugboat, schooner, barge, ferry, sailboard, paddleboat, lifeboat, freighter, steamboat, riverboat, battleship, steamship
traffic light, street light, traffic signal, stop light, streetlight, stoplight
fire hydrant, hydrant
stop sign
parking meter
bench, pew
bird, ostrich, owl, seagull, goose, duck, parakeet, falcon, robin, pelican, waterfowl, heron, hummingbird, mallard, finch, pigeon, sparrow, seabird, osprey, blackbird, fowl, shorebird, woodpecker, egret, chickadee, quail, bluebird, kingfisher, buzzard, willet, gull, swan, bluejay, flamingo, cormorant, parrot, loon, gosling, waterbird, pheasant, rooster, sandpiper, crow, raven, turkey, oriole, cowbird, warbler, magpie, peacock, cockatiel, lorikeet, puffin, vulture, condor, macaw, peafowl, cockatoo, songbird
cat, kitten, feline, tabby
dog, puppy, beagle, pup, chihuahua, schnauzer, dachshund, rottweiler, canine, pitbull, collie, pug, terrier, poodle, labrador, doggie, doberman, mutt, doggy, spaniel, bulldog, sheepdog, weimaraner, corgi, cocker, greyhound, retriever, brindle, hound, whippet, husky
horse, colt, pony, racehorse, stallion, equine, mare, foal, palomino, mustang, clydesdale, bronc, bronco
sheep, lamb, ram, lamb, goat, ewe
cow, cattle, oxen, ox, calf, cattle, holstein, heifer, buffalo, bull, zebu, bison
elephant
bear, panda
zebra
giraffe
backpack, knapsack
umbrella
handbag, wallet, purse, briefcase
tie, bow, bow tie
suitcase, suit case, luggage
frisbee
skis, ski
snowboard
sports ball, ball
kite
baseball bat
baseball glove
skateboard
surfboard, longboard, skimboard, shortboard, wakeboard
tennis racket, racket
bottle
wine glass
cup
fork
knife, pocketknife, knive
spoon
bowl, container
banana
apple
sandwich, burger, sub, cheeseburger, hamburger
orange
broccoli
carrot
hot dog
pizza
donut, doughnut, bagel
cake, cheesecake, cupcake, shortcake, coffeecake, pancake
chair, seat, stool
couch, sofa, recliner, futon, loveseat, settee, chesterfield
potted plant, houseplant
bed
dining table, table, desk
toilet, urinal, commode, toilet, lavatory, potty
tv, monitor, televison, television
laptop, computer, notebook, netbook, lenovo, macbook, laptop computer
mouse
remote
keyboard
cell phone, mobile phone, phone, cellphone, telephone, phon, smartphone, iPhone
microwave
oven, stovetop, stove, stove top oven
toaster
sink
refrigerator, fridge, fridge, freezer
book
clock
vase
scissors
teddy bear, teddybear
hair drier, hairdryer
toothbrush
`;

/**
 * chair.py's two-word phrases that stand for something other than their words: a qualifier
 * that would otherwise fire "person" ("baby", "adult", "passenger" are person synonyms) names
 * the animal or vehicle instead ("baby bird" is a bird, "passenger jet" a jet, so an airplane),
 * "bow tie" is a tie, and "toilet seat" a toilet (not a chair). Each maps to the word chair.py
 * replaces it with, looked up in the synonym list afterwards.
 */
export const COCO_QUALIFIED_PHRASES: Readonly<Record<string, string>> = {
  ...Object.fromEntries(
    ["bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "animal", "cub"].flatMap(
      (animal) => [
        [`baby ${animal}`, animal],
        [`adult ${animal}`, animal],
      ],
    ),
  ),
  "passenger jet": "jet",
  "passenger train": "train",
  "bow tie": "tie",
  "toilet seat": "toilet",
};

/**
 * chair.py's two-word phrases that name no COCO object, kept whole so that their words do not
 * count on their own: "home plate" (baseball) and "train track" (not a train; in the chair.py of
 * LURE, OPERA and HA-DPO, added after the original).
 */
export const COCO_NON_OBJECT_PHRASES: readonly string[] = ["home plate", "train track"];
