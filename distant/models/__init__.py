"""Neural models: CRF, character LM, word embeddings, BiLSTM encoder, transformer encoder and the tagger."""

from distant.models.charlm import (CharBatch, CharExample, CharLM, CharLMConfig, CharVocab, Highway,
                                   build_charlm, collate_chars, compute_charlm_features, encode_chars,
                                   pretrain_charlm)
from distant.models.crf import CRF, bio_constraints
from distant.models.embeddings import WordEmbedding, WordVocab, load_word_vectors
from distant.models.encoder import BiLSTMEncoder, PassThrough
from distant.models.tagger import (FORMAT_VERSION, Tagger, TaggerBatch, TaggerConfig, TaggerExample,
                                   TaggerVocabs, allowed_matrix, build_tagger, collate)
from distant.models.transformer import (SubwordBatch, SubwordExample, TransformerEncoder, collate_subwords,
                                        load_transformer)

__all__ = [
    "BiLSTMEncoder", "CRF", "CharBatch", "CharExample", "CharLM", "CharLMConfig", "CharVocab", "FORMAT_VERSION",
    "Highway", "PassThrough", "SubwordBatch", "SubwordExample", "Tagger", "TaggerBatch", "TaggerConfig",
    "TaggerExample", "TaggerVocabs", "TransformerEncoder", "WordEmbedding", "WordVocab", "allowed_matrix",
    "bio_constraints", "build_charlm", "build_tagger", "collate", "collate_chars", "collate_subwords",
    "compute_charlm_features", "encode_chars", "load_transformer", "load_word_vectors", "pretrain_charlm",
]
