"""Neural models: CRF, character LM, word embeddings, BiLSTM encoder and the tagger that composes them."""

from distant.models.charlm import (CharBatch, CharExample, CharLM, CharLMConfig, CharVocab, Highway,
                                   build_charlm, collate_chars, compute_charlm_features, encode_chars,
                                   pretrain_charlm)
from distant.models.crf import CRF, bio_constraints
from distant.models.embeddings import WordEmbedding, WordVocab, load_word_vectors
from distant.models.encoder import BiLSTMEncoder
from distant.models.tagger import (FORMAT_VERSION, Tagger, TaggerBatch, TaggerConfig, TaggerExample,
                                   TaggerVocabs, allowed_matrix, build_tagger, collate)

__all__ = [
    "BiLSTMEncoder", "CRF", "CharBatch", "CharExample", "CharLM", "CharLMConfig", "CharVocab", "FORMAT_VERSION",
    "Highway", "Tagger", "TaggerBatch", "TaggerConfig", "TaggerExample", "TaggerVocabs", "WordEmbedding",
    "WordVocab", "allowed_matrix", "bio_constraints", "build_charlm", "build_tagger", "collate", "collate_chars",
    "compute_charlm_features", "encode_chars", "load_word_vectors", "pretrain_charlm",
]
