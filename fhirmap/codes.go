package fhirmap

const ucum = "http://unitsofmeasure.org"
