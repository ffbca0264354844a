"""Neural models: the tagger and its inputs, the CRF, the character LM, the encoders, and how they run."""

from distant.config.model import CharLMConfig, TaggerConfig
from distant.models.charlm import (CharBatch, CharExample, CharLM, CharVocab, Highway, build_charlm, collate_chars,
                                   compute_charlm_features, encode_chars, pretrain_charlm)
from distant.models.crf import CRF, bio_constraints
from distant.models.embeddings import WordEmbedding, WordVocab, load_word_vectors
from distant.models.encoder import BiLSTMEncoder, PassThrough
from distant.models.inputs import CharLMInput, ExtraInput, TaggerInput, TransformerInput, WordInput
from distant.models.tagger import FORMAT_VERSION, LossTerms, Tagger, TaggerBatch, TaggerExample, build_tagger
from distant.models.transformer import (SubwordBatch, SubwordExample, TransformerEncoder, collate_subwords,
                                        load_transformer)

__all__ = [
    "BiLSTMEncoder", "CRF", "CharBatch", "CharExample", "CharLM", "CharLMConfig", "CharLMInput", "CharVocab",
    "ExtraInput", "FORMAT_VERSION", "Highway", "LossTerms", "PassThrough", "SubwordBatch", "SubwordExample",
    "Tagger", "TaggerBatch", "TaggerConfig", "TaggerExample", "TaggerInput", "TransformerEncoder",
    "TransformerInput", "WordEmbedding", "WordInput", "WordVocab", "bio_constraints", "build_charlm",
    "build_tagger", "collate_chars", "collate_subwords", "compute_charlm_features", "encode_chars", "load_transformer",
    "load_word_vectors", "pretrain_charlm",
]
