"""Write the shipped sample corpus (gold.pubtator, abstracts.txt) from the hand-written marked-up abstracts below.

The abstracts are invented for the project (no corpus text): ``[[mention|Type]]`` marks a gold mention, and this
script computes the PubTator character offsets so they are exact. Run: ``python data/sample/build.py``.
"""

import re
from pathlib import Path

DOCS = [
    ("1001", "[[Cisplatin|Chemical]]-induced [[nephrotoxicity|Disease]] in rats.",
     "[[Cisplatin|Chemical]] is widely used against [[ovarian cancer|Disease]], but [[nephrotoxicity|Disease]] "
     "limits its dose. Rats given [[cisplatin|Chemical]] (5 mg/kg, i.p.) developed [[acute renal failure|Disease]] "
     "within five days. Pretreatment with [[N-acetylcysteine|Chemical]] (NAC) reduced serum [[creatinine|Chemical]] "
     "and tubular damage."),
    ("1002", "[[Haloperidol|Chemical]] and [[tardive dyskinesia|Disease]] in elderly patients.",
     "We report three patients who developed [[tardive dyskinesia|Disease]] (TD) after long-term "
     "[[haloperidol|Chemical]] treatment. Symptoms of [[TD|Disease]] improved when the dose was lowered, e.g. to "
     "1 mg daily. No patient developed [[parkinsonism|Disease]] during follow-up."),
    ("1003", "[[Lithium|Chemical]] toxicity presenting as [[hypothyroidism|Disease]].",
     "A 54-year-old woman on [[lithium carbonate|Chemical]] presented with fatigue and [[weight gain|Disease]]. "
     "Serum [[thyroxine|Chemical]] was low and [[hypothyroidism|Disease]] was diagnosed. Treatment with "
     "[[levothyroxine|Chemical]] restored normal thyroid function."),
    ("1004", "[[Doxorubicin|Chemical]] [[cardiomyopathy|Disease]]: the role of [[iron|Chemical]].",
     "[[Doxorubicin|Chemical]] causes dose-dependent [[cardiomyopathy|Disease]] and [[heart failure|Disease]]. "
     "[[Iron|Chemical]] chelation with [[dexrazoxane|Chemical]] protects the heart. Patients receiving "
     "[[doxorubicin|Chemical]] for [[breast cancer|Disease]] were followed for two years."),
    ("1005", "[[Aspirin|Chemical]] and the risk of [[gastrointestinal bleeding|Disease]].",
     "Low-dose [[aspirin|Chemical]] (75 mg) increased the risk of [[gastrointestinal bleeding|Disease]] in a cohort "
     "of 2,000 adults. Co-therapy with [[omeprazole|Chemical]] lowered the rate of [[peptic ulcer|Disease]]. "
     "[[Ibuprofen|Chemical]] had a similar effect."),
    ("1006", "[[Amiodarone|Chemical]]-associated [[pulmonary fibrosis|Disease]].",
     "[[Pulmonary fibrosis|Disease]] is a serious adverse effect of [[amiodarone|Chemical]]. Two of 40 patients "
     "treated for [[atrial fibrillation|Disease]] developed [[cough|Disease]] and [[dyspnea|Disease]]. Withdrawal "
     "of the drug and [[prednisone|Chemical]] led to recovery."),
    ("1007", "[[Valproic acid|Chemical]] and [[hepatotoxicity|Disease]] in children with [[epilepsy|Disease]].",
     "[[Valproic acid|Chemical]] ([[VPA|Chemical]]) remains a first-line drug for [[epilepsy|Disease]]. Fatal "
     "[[hepatotoxicity|Disease]] occurred in one child receiving [[VPA|Chemical]] with "
     "[[phenobarbital|Chemical]]. Serum [[ammonia|Chemical]] should be monitored."),
    ("1008", "[[Cocaine|Chemical]] use and [[myocardial infarction|Disease]] in young adults.",
     "[[Cocaine|Chemical]] increases heart rate and blood pressure and may cause [[myocardial infarction|Disease]] "
     "([[MI|Disease]]). Among 120 young adults with [[MI|Disease]], 18 reported recent [[cocaine|Chemical]] use. "
     "[[Nitroglycerin|Chemical]] relieved [[chest pain|Disease]] in most of them."),
]
MARK = re.compile(r"\[\[(.+?)\|(\w+)\]\]")


def strip(marked: str, offset: int) -> tuple[str, list[tuple[int, int, str, str]]]:
    """Remove the markup, returning the plain text and its mentions with offsets shifted by ``offset``."""
    out, mentions, pos, length = [], [], 0, 0
    for m in MARK.finditer(marked):
        out.append(marked[pos:m.start()])
        length += m.start() - pos
        mentions.append((offset + length, offset + length + len(m.group(1)), m.group(1), m.group(2)))
        out.append(m.group(1))
        length += len(m.group(1))
        pos = m.end()
    out.append(marked[pos:])
    return "".join(out), mentions


def main() -> None:
    here = Path(__file__).parent
    pubtator, raw = [], []
    for pmid, title, abstract in DOCS:
        t, tm = strip(title, 0)
        a, am = strip(abstract, len(t) + 1)
        text = f"{t} {a}"
        pubtator += [f"{pmid}|t|{t}", f"{pmid}|a|{a}"]
        for start, end, mention, label in tm + am:
            assert text[start:end] == mention
            pubtator.append(f"{pmid}\t{start}\t{end}\t{mention}\t{label}")
        pubtator.append("")
        raw.append(text)
    (here / "gold.pubtator").write_text("\n".join(pubtator) + "\n", encoding="utf-8")
    (here / "abstracts.txt").write_text("\n".join(raw) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
