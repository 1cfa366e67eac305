"""Sample attendees, as an admin or a CSV import would register them."""

from __future__ import annotations

ANNA = {
    "name": "Anna Berg",
    "email": "anna.berg@cluster.example",
    "organisation": "Flanders Photonics Cluster",
    "category": "cluster-manager",
}
BRAM = {
    "name": "Bram de Wit",
    "email": "bram@agency.example",
    "organisation": "Dutch Innovation Agency",
    "category": "national-policy-maker",
}
CARLA = {
    "name": "Carla Dias",
    "email": "carla@uni.example",
    "organisation": "University of Porto",
    "category": "academia",
}
DARIO = {
    "name": "Dario Esposito",
    "email": "dario@press.example",
    "organisation": "Cluster Weekly",
    "category": "press",
}
EVA = {
    "name": "Eva Fischer",
    "email": "eva@bank.example",
    "organisation": "Regional Development Bank",
    "category": "industry",
}
